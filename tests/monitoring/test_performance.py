"""Delayed-label performance: the maturity cut, the known-compromised protocol, the verdict."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from fraudlake.monitoring.performance import (
    NO_CHAMPION,
    PerformanceVerdict,
    assess_performance,
    matured_rows,
    matured_window,
    maturity_cutoff,
    performance_verdict,
    unmeasured,
    window_rows,
)
from fraudlake.params import DecisionParams, DriftParams, TrainParams, load_params
from fraudlake.training.split import split_windows

P = DriftParams()  # investigate above a 0.05 drop, retrain above 0.10
DECISION = DecisionParams()
START = dt.date(2024, 1, 1)
REPO = Path(__file__).resolve().parents[2]


def scored_days(
    days: int,
    *,
    per_day: int = 40,
    frauds_per_day: int = 4,
    good_days: range | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """``days`` days of ``per_day`` scored transactions from ``START``, one card each,
    ``frauds_per_day`` of them fraud. On ``good_days`` (default: all) the score ranks
    every fraud first (AP 1); on the other days frauds score lowest (AP near the fraud rate).
    Labels are reported the day after the transaction."""
    rng = np.random.default_rng(seed)
    good = range(days) if good_days is None else good_days
    step = per_day // frauds_per_day
    rows = []
    for day in range(days):
        midnight = pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=day)
        for i in range(per_day):
            fraud = i % step == 0
            noise = float(rng.uniform(0, 0.4))
            score = 0.6 + noise if fraud == (day in good) else noise
            ts = midnight + pd.Timedelta(minutes=30 * i)
            rows.append(
                {
                    "event_ts": ts,
                    "transaction_id": f"t{day:03d}-{i:03d}",
                    "card_id": f"c{day:03d}-{i:03d}",
                    "is_fraud": int(fraud),
                    "score": score,
                    "label_reported_at": ts + pd.Timedelta(days=1) if fraud else pd.NaT,
                }
            )
    return pd.DataFrame(rows)


def day_ts(day: int) -> pd.Timestamp:
    return pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=day)


# -- the verdict ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        (0.60, 0.80, "retrain"),  # dropped 0.20 > 0.10
        (0.68, 0.80, "retrain"),  # dropped 0.12
        (0.73, 0.80, "investigate"),  # dropped 0.07: between 0.05 and 0.10
        (0.78, 0.80, "ok"),  # a small drop
        (0.80, 0.80, "ok"),
        (0.95, 0.80, "ok"),  # an improvement is never a reason to retrain
        (0.09, 0.20, "retrain"),
    ],
)
def test_verdict_thresholds(current: float, baseline: float, expected: str) -> None:
    verdict, reason = performance_verdict(current, baseline, P)
    assert verdict == expected
    assert f"{current:.4f}" in reason and f"{baseline:.4f}" in reason


def test_bounds_are_strict() -> None:
    # binary fractions: the drops are exact, so the comparison is exactly at the bound
    params = DriftParams(performance_drop_investigate=0.125, performance_drop_retrain=0.25)
    assert performance_verdict(0.5, 0.75, params)[0] == "investigate"  # drop == retrain bound
    assert performance_verdict(0.625, 0.75, params)[0] == "ok"  # drop == investigate bound
    assert performance_verdict(math.nextafter(0.5, 0), 0.75, params)[0] == "retrain"
    assert performance_verdict(math.nextafter(0.625, 0), 0.75, params)[0] == "investigate"


@pytest.mark.parametrize(
    ("current", "baseline", "says"),
    [
        (math.nan, 0.8, "undefined on the matured window"),
        (None, 0.8, "undefined on the matured window"),
        (0.8, math.nan, "hold-out at registration is unknown"),
        (0.8, None, "hold-out at registration is unknown"),
        (math.nan, math.nan, "hold-out at registration is unknown"),
        (math.inf, 0.8, "undefined"),
    ],
)
def test_undefined_values_ask_for_investigation(
    current: float | None, baseline: float | None, says: str
) -> None:
    verdict, reason = performance_verdict(current, baseline, P)
    assert verdict == "investigate"
    assert says in reason


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValidationError, match="performance_drop_investigate must be <="):
        DriftParams(performance_drop_investigate=0.2, performance_drop_retrain=0.1)
    with pytest.raises(ValidationError):
        DriftParams(performance_drop_retrain=1.5)
    with pytest.raises(ValidationError):
        DriftParams(performance_drop_investigate=-0.01)
    assert DriftParams(performance_drop_investigate=0.1, performance_drop_retrain=0.1)
    drift = load_params(REPO / "params.yaml").drift
    assert (drift.performance_drop_investigate, drift.performance_drop_retrain) == (0.05, 0.10)


# -- which rows count -------------------------------------------------------------------------


def test_cutoff_is_midnight_after_the_newest_day_minus_the_maturity() -> None:
    newest = pd.Timestamp("2024-01-20 13:45", tz="UTC")
    assert maturity_cutoff(newest, 0) == pd.Timestamp("2024-01-21", tz="UTC")
    assert maturity_cutoff(newest, 10) == pd.Timestamp("2024-01-11", tz="UTC")
    with pytest.raises(ValueError, match="naive"):
        maturity_cutoff(pd.Timestamp("2024-01-20"), 1)
    with pytest.raises(ValueError, match=">= 0"):
        maturity_cutoff(newest, -1)


def test_matured_window_is_the_training_splits_hold_out_cut() -> None:
    """Right after training, the matured window is the hold-out the champion was tested on."""
    frame = scored_days(35, per_day=10, frauds_per_day=1)
    window = matured_window(frame, window_days=7, label_maturity_days=10)
    train = TrainParams(train_days=10, gap_days=7, test_days=7, label_maturity_days=10)
    _, test = split_windows(START, START + dt.timedelta(days=34), train)
    assert (window.start, window.end) == (test.start_ts, test.end_ts)
    assert window.n_rows == 7 * 10


def test_maturity_filter_excludes_immature_days() -> None:
    # days 0..19; maturity 5 → labels of days 15..19 still open; window days 8..14. The
    # open days rank every fraud last: counted, they would sink the average precision.
    frame = scored_days(20, good_days=range(15))
    evaluated = matured_rows(frame, window_days=7, label_maturity_days=5, lookback_days=14)
    ts = evaluated.rows["event_ts"]
    assert ts.min() >= day_ts(8) and ts.max() < day_ts(15)
    assert (evaluated.window.start, evaluated.window.end) == (day_ts(8), day_ts(15))
    assert len(evaluated.rows) == 7 * 40 == evaluated.window.n_rows

    verdict = assess_performance(
        evaluated,
        {"average_precision": 1.0},
        P,
        DECISION,
        label_maturity_days=5,
        champion_version=3,
    )
    assert verdict.current == pytest.approx(1.0)
    assert verdict.verdict == "ok" and verdict.drop == pytest.approx(0.0)

    # without the maturity cut the open days are in and the champion looks broken
    unfiltered = matured_rows(frame, window_days=7, label_maturity_days=0, lookback_days=14)
    assert unfiltered.rows["event_ts"].max() >= day_ts(19)
    worse = assess_performance(
        unfiltered, {"average_precision": 1.0}, P, DECISION, label_maturity_days=0
    )
    assert worse.verdict == "retrain"


def test_known_compromised_cards_are_removed_like_in_training() -> None:
    frame = scored_days(10, per_day=10, frauds_per_day=1)
    # card X: fraud on day 2, reported on day 3; it transacts again on days 5 and 6
    extra = []
    for day, fraud in ((2, 1), (5, 0), (6, 1)):
        ts = day_ts(day) + pd.Timedelta(hours=12)
        extra.append(
            {
                "event_ts": ts,
                "transaction_id": f"x{day}",
                "card_id": "X",
                "is_fraud": fraud,
                "score": 0.9,
                "label_reported_at": ts + pd.Timedelta(days=1) if fraud else pd.NaT,
            }
        )
    frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    kept = window_rows(frame, day_ts(5), day_ts(8), lookback_days=5)
    assert kept.removed_rows == 2 and kept.removed_cards == 1
    assert "X" not in set(kept.rows["card_id"])
    # the cut is per day: on day 3 itself the day-2 fraud was not reported before midnight
    early = window_rows(frame, day_ts(3), day_ts(4), lookback_days=3)
    assert early.removed_rows == 0
    # outside the lookback the card is not known
    blind = window_rows(frame, day_ts(5), day_ts(8), lookback_days=1)
    assert blind.removed_rows == 0
    off = window_rows(frame, day_ts(5), day_ts(8), lookback_days=5, drop_known_compromised=False)
    assert off.removed_rows == 0 and len(off.rows) == kept.window.n_rows


# -- whole assessments ------------------------------------------------------------------------


def test_a_degraded_champion_is_retrained_and_an_improved_one_is_not() -> None:
    frame = scored_days(20, good_days=range(0))  # frauds ranked last everywhere
    evaluated = matured_rows(frame, window_days=7, label_maturity_days=5, lookback_days=14)
    bad = assess_performance(
        evaluated, {"average_precision": 0.9, "roc_auc": 0.95}, P, DECISION, label_maturity_days=5
    )
    assert bad.verdict == "retrain"
    assert bad.drop is not None and bad.drop > 0.1
    assert bad.n_fraud == 7 * 4
    assert set(bad.current_metrics) >= {"average_precision", "roc_auc", "card_precision_at_100"}

    good = matured_rows(scored_days(20), window_days=7, label_maturity_days=5, lookback_days=14)
    better = assess_performance(
        good,
        {"average_precision": 0.5, "fit_seconds": 3.0, "test_rows": 100.0},
        P,
        DECISION,
        label_maturity_days=5,
    )
    assert better.verdict == "ok" and better.drop is not None and better.drop < 0
    assert better.baseline_metrics == {"average_precision": 0.5}  # only comparable keys


def test_no_fraud_in_the_matured_window_is_investigate_not_a_crash(tmp_path: Path) -> None:
    frame = scored_days(20).assign(is_fraud=0, label_reported_at=pd.NaT)
    evaluated = matured_rows(frame, window_days=7, label_maturity_days=5, lookback_days=14)
    verdict = assess_performance(
        evaluated, {"average_precision": 0.8}, P, DECISION, label_maturity_days=5
    )
    assert verdict.verdict == "investigate"
    assert "no fraud" in verdict.reason
    assert verdict.current is None and verdict.drop is None and verdict.n_fraud == 0
    assert verdict.current_metrics["roc_auc"] is None  # NaN stored as null
    text = verdict.write(tmp_path / "performance.json").read_text()
    assert "NaN" not in text
    json.loads(text)  # strict JSON
    assert PerformanceVerdict.read(tmp_path / "performance.json") == verdict


def test_no_matured_rows_is_investigate() -> None:
    # five days, all of them younger than the maturity: nothing has matured
    frame = scored_days(5)
    evaluated = matured_rows(frame, window_days=7, label_maturity_days=10, lookback_days=14)
    assert evaluated.rows.empty
    verdict = assess_performance(
        evaluated, {"average_precision": 0.8}, P, DECISION, label_maturity_days=10
    )
    assert verdict.verdict == "investigate"
    assert "no matured transactions" in verdict.reason
    assert verdict.baseline == pytest.approx(0.8) and verdict.current is None


def test_missing_prediction_columns_are_an_error() -> None:
    evaluated = matured_rows(
        scored_days(10).drop(columns="score"),
        window_days=3,
        label_maturity_days=2,
        lookback_days=3,
    )
    with pytest.raises(ValueError, match="score"):
        assess_performance(evaluated, {}, P, DECISION, label_maturity_days=2)


def test_no_champion_is_investigate() -> None:
    verdict = unmeasured(NO_CHAMPION, P, label_maturity_days=10)
    assert verdict.verdict == "investigate" and verdict.reason == "no champion"
    assert verdict.window is None and verdict.current is None
    assert verdict.thresholds.retrain_drop == P.performance_drop_retrain
