"""The pure thresholding and the verdict record."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudlake.monitoring.verdict import (
    DriftVerdict,
    FeatureDrift,
    ReportPaths,
    Sampling,
    Thresholds,
    drift_verdict,
)
from fraudlake.monitoring.windows import Window
from fraudlake.params import DriftParams

P = DriftParams()  # investigate 0.15, retrain 0.25
UP = math.inf


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.0, "ok"),
        (0.1, "ok"),
        (0.15, "ok"),  # at the bound: not more than 15 %
        (math.nextafter(0.15, UP), "investigate"),
        (0.2, "investigate"),
        (0.25, "investigate"),  # at the bound: not more than 25 %
        (math.nextafter(0.25, UP), "retrain"),
        (0.5, "retrain"),
        (1.0, "retrain"),
    ],
)
def test_thresholds_are_strict(share: float, expected: str) -> None:
    assert drift_verdict(share, P) == expected


@pytest.mark.parametrize(
    ("n_drifted", "n_features", "expected"),
    [
        (3, 20, "ok"),
        (4, 20, "investigate"),
        (5, 20, "investigate"),
        (6, 20, "retrain"),
        (1, 10, "ok"),
        (2, 10, "investigate"),
        (3, 10, "retrain"),
    ],
)
def test_counted_shares(n_drifted: int, n_features: int, expected: str) -> None:
    assert drift_verdict(n_drifted / n_features, P) == expected


def test_custom_thresholds() -> None:
    params = DriftParams(investigate_share=0.0, retrain_share=0.5)
    assert drift_verdict(0.0, params) == "ok"
    assert drift_verdict(0.01, params) == "investigate"
    assert drift_verdict(0.51, params) == "retrain"
    same = DriftParams(investigate_share=0.3, retrain_share=0.3)
    assert drift_verdict(0.3, same) == "ok"
    assert drift_verdict(0.31, same) == "retrain"


@pytest.mark.parametrize("share", [-0.01, 1.01, math.nan])
def test_share_out_of_range(share: float) -> None:
    with pytest.raises(ValueError, match="share_drifted"):
        drift_verdict(share, P)


def test_contradicting_thresholds() -> None:
    with pytest.raises(ValueError, match="investigate_share"):
        drift_verdict(0.1, DriftParams(investigate_share=0.3, retrain_share=0.2))


def _verdict(tmp_path: Path, **overrides: object) -> DriftVerdict:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    fields: dict[str, object] = {
        "verdict": "investigate",
        "share_drifted": 0.2,
        "n_drifted": 1,
        "n_features": 5,
        "drifted_features": ["a"],
        "features": {
            name: FeatureDrift(stattest="K-S p_value", threshold=0.05, score=s, drifted=s < 0.05)
            for name, s in zip("abcde", [0.001, 0.3, 0.5, 0.7, 0.9], strict=True)
        },
        "thresholds": Thresholds(investigate_share=0.15, retrain_share=0.25),
        "reference": Window(start=start, end=start + dt.timedelta(days=14), n_rows=1400),
        "current": Window(
            start=start + dt.timedelta(days=14), end=start + dt.timedelta(days=21), n_rows=700
        ),
        "sampling": Sampling(
            max_rows=50_000,
            seed=0,
            reference_rows=1400,
            current_rows=700,
            reference_sampled=False,
            current_sampled=False,
        ),
        "generated_at": dt.datetime.now(dt.UTC),
        "evidently_version": "0.7.23",
        "reports": ReportPaths(
            data_drift_html=tmp_path / "data_drift.html",
            data_drift_json=tmp_path / "data_drift.json",
            verdict_json=tmp_path / "verdict.json",
        ),
    }
    fields.update(overrides)
    return DriftVerdict.model_validate(fields)


def test_verdict_json_round_trip(tmp_path: Path) -> None:
    verdict = _verdict(tmp_path)
    path = verdict.write()
    assert path == tmp_path / "verdict.json"
    assert DriftVerdict.read(path) == verdict


@pytest.mark.parametrize(
    "overrides",
    [
        {"verdict": "ok"},  # disagrees with the share
        {"n_drifted": 2},  # disagrees with the flags
        {"drifted_features": ["b"]},
        {"share_drifted": 0.21},  # not n_drifted / n_features
    ],
)
def test_inconsistent_verdict_is_rejected(tmp_path: Path, overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _verdict(tmp_path, **overrides)
