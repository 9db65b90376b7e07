"""Time-ordered split: windows, gap, known-compromised cards."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from fraudlake.params import TrainParams
from fraudlake.training.split import (
    DateWindow,
    SplitError,
    known_compromised_cards,
    split_train_test,
    split_windows,
)


def day(d: int) -> dt.date:
    return dt.date(2024, 3, d)


def test_relative_windows_count_back_from_last_day() -> None:
    params = TrainParams(train_days=14, gap_days=3, test_days=7)
    train, test = split_windows(day(1), day(30), params)
    assert test == DateWindow(day(24), day(31))
    assert train == DateWindow(day(7), day(21))
    assert (test.start - train.end).days == 3
    # immature days (labels still under investigation) are left out of the test
    matured = TrainParams(train_days=14, gap_days=3, test_days=7, label_maturity_days=5)
    train, test = split_windows(day(1), day(30), matured)
    assert test == DateWindow(day(19), day(26))
    assert train == DateWindow(day(2), day(16))


def test_relative_split_respects_windows_and_gap(
    synthetic_frame: pd.DataFrame, train_params: TrainParams
) -> None:
    before = synthetic_frame.copy()
    split = split_train_test(synthetic_frame, train_params)
    pd.testing.assert_frame_equal(synthetic_frame, before)  # input untouched
    assert split.train_window == DateWindow(day(7), day(21))
    assert split.test_window == DateWindow(day(24), day(31))
    assert split.gap_days == train_params.gap_days
    train_ts, test_ts = split.train["event_ts"], split.test["event_ts"]
    assert train_ts.min() >= split.train_window.start_ts
    assert train_ts.max() < split.train_window.end_ts
    gap_end = split.train_window.end_ts + pd.Timedelta(days=train_params.gap_days)
    assert test_ts.min() >= gap_end  # no test row before train end + gap
    assert test_ts.max() < split.test_window.end_ts
    assert train_ts.is_monotonic_increasing and test_ts.is_monotonic_increasing
    # nothing from the gap, nothing from before the training window
    in_gap = (synthetic_frame["event_ts"] >= split.train_window.end_ts) & (
        synthetic_frame["event_ts"] < split.test_window.start_ts
    )
    assert not set(synthetic_frame.loc[in_gap, "transaction_id"]) & (
        set(split.train["transaction_id"]) | set(split.test["transaction_id"])
    )
    expected_train = synthetic_frame["event_ts"].between(
        split.train_window.start_ts, split.train_window.end_ts, inclusive="left"
    )
    assert len(split.train) == int(expected_train.sum())


def test_explicit_dates_override_relative(synthetic_frame: pd.DataFrame) -> None:
    params = TrainParams(
        train_days=10, gap_days=99, test_days=5, train_start=day(2), test_start=day(20)
    )
    split = split_train_test(synthetic_frame, params, drop_known_compromised=False)
    assert split.train_window == DateWindow(day(2), day(12))
    assert split.test_window == DateWindow(day(20), day(25))
    assert split.gap_days == 8
    assert split.train["event_ts"].dt.date.between(day(2), day(11)).all()
    assert split.test["event_ts"].dt.date.between(day(20), day(24)).all()
    expected = synthetic_frame["event_ts"].dt.date.between(day(20), day(24))
    assert len(split.test) == int(expected.sum())


def test_explicit_overlapping_windows_are_refused(synthetic_frame: pd.DataFrame) -> None:
    params = TrainParams(train_days=10, test_days=5, train_start=day(2), test_start=day(8))
    with pytest.raises(SplitError, match="overlaps"):
        split_train_test(synthetic_frame, params)


def test_known_compromised_cards_are_removed_from_test(
    synthetic_frame: pd.DataFrame, train_params: TrainParams
) -> None:
    split = split_train_test(synthetic_frame, train_params)
    frauds = synthetic_frame[
        (synthetic_frame["is_fraud"] == 1)
        & (synthetic_frame["event_ts"] >= split.train_window.start_ts)
    ]

    def known_on(day_start: pd.Timestamp) -> set[str]:
        return set(frauds.loc[frauds["label_reported_at"] < day_start, "card_id"])

    # no kept test row belongs to a card known compromised at the start of its day
    for day_start, rows in split.test.groupby(split.test["event_ts"].dt.floor("D")):
        assert not set(rows["card_id"]) & known_on(day_start)
    assert split.removed_cards  # the synthetic data has some

    kept = split_train_test(synthetic_frame, train_params, drop_known_compromised=False)
    assert set(kept.test["card_id"]) & split.removed_cards
    assert kept.removed_rows == 0 and not kept.removed_cards
    assert len(kept.test) - len(split.test) == split.removed_rows > 0
    pd.testing.assert_frame_equal(kept.train, split.train)  # training set unaffected


def test_known_compromised_uses_report_time_not_event_time() -> None:
    ts = pd.Timestamp("2024-03-10", tz="UTC")

    def row(card: str, day_: int, fraud: int, reported_day: int | None) -> dict[str, object]:
        return {
            "transaction_id": day_,
            "event_ts": pd.Timestamp(day(day_), tz="UTC") + pd.Timedelta(hours=12),
            "card_id": card,
            "is_fraud": fraud,
            "label_reported_at": (
                pd.Timestamp(day(reported_day), tz="UTC") if reported_day else pd.NaT
            ),
        }

    frame = pd.DataFrame(
        [
            row("reported_before", 1, 1, 5),  # known at test start
            row("reported_after", 2, 1, 12),  # fraud, but reported after the test starts
            row("reported_at_start", 3, 1, 10),  # reported exactly at start: not *before*
            row("genuine", 4, 0, None),
        ]
    )
    frame["label_reported_at"] = pd.to_datetime(frame["label_reported_at"], utc=True)
    assert known_compromised_cards(frame, ts) == frozenset({"reported_before"})
    # only frauds from ``since`` on count (the handbook ignores history before training)
    since = pd.Timestamp(day(2), tz="UTC")
    assert known_compromised_cards(frame, ts, since=since) == frozenset()

    test_rows = pd.DataFrame(
        [
            row(card, d, 0, None)
            for card, d in [
                ("reported_before", 11),
                ("reported_after", 11),
                ("reported_at_start", 12),
                ("genuine", 12),
            ]
        ]
    )
    test_rows["label_reported_at"] = pd.to_datetime(test_rows["label_reported_at"], utc=True)
    params = TrainParams(train_days=5, test_days=3, train_start=day(1), test_start=day(10))
    split = split_train_test(pd.concat([frame, test_rows], ignore_index=True), params)
    # per test day: "reported_at_start" (reported on day 10) is known by day 12 and
    # removed; "reported_after" (reported on day 12) is not yet known on day 11 and kept
    assert set(split.test["card_id"]) == {"reported_after", "genuine"}
    assert split.removed_rows == 2


def test_bad_input_gets_a_clear_error(
    synthetic_frame: pd.DataFrame, train_params: TrainParams
) -> None:
    with pytest.raises(SplitError, match="label_reported_at"):
        split_train_test(synthetic_frame.drop(columns="label_reported_at"), train_params)
    with pytest.raises(SplitError, match="ends before the data starts"):
        split_train_test(synthetic_frame, TrainParams(train_days=5, gap_days=30, test_days=7))
    with pytest.raises(SplitError, match="empty"):
        split_train_test(synthetic_frame.iloc[:0], train_params)
