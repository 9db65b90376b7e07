"""Real Evidently reports on synthetic frames: verdicts, files, sampling, classification."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fraudlake.monitoring.drift import (
    CLASSIFICATION_HTML,
    CLASSIFICATION_JSON,
    DriftInputError,
    monitor_drift,
    run_drift,
)
from fraudlake.monitoring.verdict import DriftVerdict
from fraudlake.params import DriftParams

#: The ten features of ``conftest.make_frame`` (f0..f9); the conftest itself is not
#: imported, as other test folders have a ``conftest`` module too.
FEATURES = [f"f{i}" for i in range(10)]
MakeFrame = Callable[..., pd.DataFrame]
N = 2000  # > 1000 reference rows: Evidently picks the normed Wasserstein distance
PARAMS = DriftParams()


@pytest.fixture(scope="module")
def no_shift(frame_factory: MakeFrame, tmp_path_factory: pytest.TempPathFactory) -> DriftVerdict:
    out = tmp_path_factory.mktemp("no_shift")
    return run_drift(frame_factory(N, 1), frame_factory(N, 2), FEATURES, PARAMS, out)


@pytest.fixture(scope="module")
def few_shifted(frame_factory: MakeFrame, tmp_path_factory: pytest.TempPathFactory) -> DriftVerdict:
    out = tmp_path_factory.mktemp("few")
    return run_drift(
        frame_factory(N, 1),
        frame_factory(N, 2, shifted=["f1", "f6"]),
        FEATURES,
        PARAMS,
        out,
        target="is_fraud",
        prediction="score",
    )


@pytest.fixture(scope="module")
def most_shifted(
    frame_factory: MakeFrame, tmp_path_factory: pytest.TempPathFactory
) -> DriftVerdict:
    out = tmp_path_factory.mktemp("most")
    return run_drift(
        frame_factory(N, 1), frame_factory(N, 2, shifted=FEATURES[:8]), FEATURES, PARAMS, out
    )


def test_no_shift_is_ok(no_shift: DriftVerdict) -> None:
    assert no_shift.verdict == "ok"
    assert no_shift.share_drifted <= 0.1
    assert no_shift.n_features == 10
    assert set(no_shift.features) == set(FEATURES)
    for f in no_shift.features.values():
        assert f.stattest == "Wasserstein distance (normed)" and f.threshold == 0.1
        assert f.drifted == (f.score >= f.threshold)


def test_few_shifted_is_investigate(few_shifted: DriftVerdict) -> None:
    assert few_shifted.verdict == "investigate"
    assert few_shifted.drifted_features == ["f1", "f6"]
    assert few_shifted.n_drifted == 2 and few_shifted.share_drifted == pytest.approx(0.2)


def test_most_shifted_is_retrain(most_shifted: DriftVerdict) -> None:
    assert most_shifted.verdict == "retrain"
    assert most_shifted.drifted_features == FEATURES[:8]
    assert most_shifted.share_drifted == pytest.approx(0.8)


def test_reports_are_written(no_shift: DriftVerdict) -> None:
    paths = no_shift.reports
    html = paths.data_drift_html.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<html") or "<!doctype html" in html[:200].lower()
    assert "Dataset Drift" in html and "plotly" in html.lower()
    report = json.loads(paths.data_drift_json.read_text(encoding="utf-8"))
    kinds = [m["config"]["type"].rsplit(":", 1)[-1] for m in report["metrics"]]
    assert kinds.count("DriftedColumnsCount") == 1 and kinds.count("ValueDrift") == 10
    counted = next(m for m in report["metrics"] if "DriftedColumnsCount" in m["config"]["type"])
    assert counted["value"]["share"] == pytest.approx(no_shift.share_drifted)
    assert paths.classification_html is None and paths.classification_json is None
    assert no_shift.classification_skipped is None  # none was asked for


def test_verdict_json_round_trips(few_shifted: DriftVerdict) -> None:
    path = few_shifted.reports.verdict_json
    assert path.name == "verdict.json" and path.parent == few_shifted.reports.data_drift_html.parent
    assert DriftVerdict.read(path) == few_shifted
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["verdict"] == "investigate" and raw["thresholds"]["retrain_share"] == 0.25


def test_classification_report(few_shifted: DriftVerdict) -> None:
    html, js = few_shifted.reports.classification_html, few_shifted.reports.classification_json
    assert html is not None and js is not None
    assert html.name == CLASSIFICATION_HTML and js.name == CLASSIFICATION_JSON
    assert "plotly" in html.read_text(encoding="utf-8").lower()
    metrics = json.loads(js.read_text(encoding="utf-8"))["metrics"]
    roc = [m for m in metrics if m["config"]["type"].endswith(":RocAuc")]
    assert roc and roc[0]["value"] > 0.9  # the synthetic score separates the classes
    assert few_shifted.classification_skipped is None


def test_classification_skipped_without_labels(frame_factory: MakeFrame, tmp_path: Path) -> None:
    ref = frame_factory(N, 1)
    cur = frame_factory(N, 2)
    cur["is_fraud"] = pd.Series(pd.NA, index=cur.index, dtype="boolean")  # labels not in yet
    (tmp_path / CLASSIFICATION_HTML).write_text("stale")  # an earlier run's report
    verdict = run_drift(ref, cur, FEATURES, PARAMS, tmp_path, target="is_fraud", prediction="score")
    assert verdict.reports.classification_html is None
    assert verdict.classification_skipped is not None
    assert "current has 0 labelled rows" in verdict.classification_skipped
    assert not (tmp_path / CLASSIFICATION_HTML).exists()


def test_sampling_is_deterministic_and_recorded(
    frame_factory: MakeFrame, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ref, cur = frame_factory(3000, 1), frame_factory(1500, 2, shifted=["f0"])
    with caplog.at_level(logging.INFO, logger="fraudlake.monitoring.drift"):
        first = run_drift(ref, cur, FEATURES, PARAMS, tmp_path / "a", max_rows=2000, seed=3)
    second = run_drift(ref, cur, FEATURES, PARAMS, tmp_path / "b", max_rows=2000, seed=3)
    s = first.sampling
    assert (s.max_rows, s.seed, s.reference_rows, s.current_rows) == (2000, 3, 2000, 1500)
    assert s.reference_sampled and not s.current_sampled and s.sampled
    assert first.reference.n_rows == 3000  # the window keeps its full count
    assert first.features == second.features
    assert "sampled 2000 of 3000 reference rows" in caplog.text
    assert str(tmp_path / "a" / "verdict.json") in caplog.text


def test_forced_stattest(frame_factory: MakeFrame, tmp_path: Path) -> None:
    verdict = run_drift(
        frame_factory(N, 1),
        frame_factory(N, 2, shifted=["f0"]),
        FEATURES,
        PARAMS,
        tmp_path,
        stattest="psi",
    )
    assert {f.stattest for f in verdict.features.values()} == {"PSI"}
    assert verdict.drifted_features == ["f0"]


def test_monitor_drift_over_windows(frame_factory: MakeFrame, tmp_path: Path) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    before = frame_factory(1400, 1, start=start, days=14)
    after = frame_factory(700, 2, shifted=FEATURES[:5], start=start + dt.timedelta(days=14))
    frame = pd.concat([before, after], ignore_index=True)
    verdict = monitor_drift(frame, FEATURES, PARAMS, tmp_path)
    assert verdict.current.start == start + dt.timedelta(days=14)
    assert verdict.current.end == start + dt.timedelta(days=21)
    assert (verdict.reference.start, verdict.reference.n_rows) == (start, 1400)
    assert verdict.current.n_rows == 700
    assert verdict.verdict == "retrain" and verdict.drifted_features == FEATURES[:5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_columns": []}, "empty"),
        ({"feature_columns": ["f0", "nope"]}, "lacks feature columns"),
        ({"feature_columns": ["f0", "f0"]}, "more than once"),
        ({"target": "is_fraud"}, "both target and prediction"),
        ({"max_rows": 0}, "max_rows"),
        ({"stattest": "no-such-test"}, "stattest 'no-such-test' is not usable"),
    ],
)
def test_bad_input(
    frame_factory: MakeFrame, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    kwargs: dict[str, object] = {"feature_columns": FEATURES, **change}
    frame = frame_factory(50, 1)
    with pytest.raises(DriftInputError, match=message):
        run_drift(frame, frame, params=PARAMS, out_dir=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_non_numeric_feature(frame_factory: MakeFrame, tmp_path: Path) -> None:
    frame = frame_factory(50, 1).assign(f0=lambda d: d["f0"].astype(str))
    with pytest.raises(DriftInputError, match="not numerical"):
        run_drift(frame, frame, FEATURES, PARAMS, tmp_path)
