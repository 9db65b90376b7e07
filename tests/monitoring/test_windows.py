"""Reference and current windows are whole UTC days, chosen from the data's end."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from fraudlake.monitoring.windows import Window, WindowError, choose_windows, slice_window
from fraudlake.params import DriftParams

UTC = dt.UTC


def _hourly(first: str, last: str, tz: str = "UTC") -> pd.DataFrame:
    ts = pd.date_range(first, last, freq="h", tz=tz)
    return pd.DataFrame({"event_ts": ts, "x": range(len(ts))})


def _d(day: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, tzinfo=UTC)


def test_default_windows_end_at_last_day() -> None:
    # events every hour from Jan 1 00:00 to Jan 30 12:00 (last day partial)
    frame = _hourly("2024-01-01 00:00", "2024-01-30 12:00")
    w = choose_windows(frame, DriftParams(reference_days=14, current_days=7))
    assert (w.current.start, w.current.end) == (_d(24), _d(31))
    assert (w.reference.start, w.reference.end) == (_d(10), _d(24))
    assert w.current.n_rows == 6 * 24 + 13  # Jan 24..29 whole, Jan 30 00:00..12:00
    assert w.reference.n_rows == 14 * 24
    assert w.current.days == 7 and w.reference.days == 14


def test_explicit_reference_and_end() -> None:
    frame = _hourly("2024-01-01 00:00", "2024-01-30 12:00")
    w = choose_windows(
        frame,
        DriftParams(current_days=3),
        reference=(dt.date(2024, 1, 1), dt.date(2024, 1, 15)),  # e.g. the training window
        end=dt.date(2024, 1, 20),
    )
    assert (w.reference.start, w.reference.end, w.reference.n_rows) == (_d(1), _d(15), 14 * 24)
    assert (w.current.start, w.current.end, w.current.n_rows) == (_d(17), _d(20), 3 * 24)


def test_other_timezones_are_read_as_utc() -> None:
    # 2024-01-30 23:30 in New York is 2024-01-31 04:30 UTC: the last UTC day is Jan 31
    frame = _hourly("2024-01-01 00:00", "2024-01-30 23:30", tz="America/New_York")
    w = choose_windows(frame, DriftParams(reference_days=7, current_days=7))
    assert w.current.end == dt.datetime(2024, 2, 1, tzinfo=UTC)


def test_slice_window_matches_counts() -> None:
    frame = _hourly("2024-01-01 00:00", "2024-01-30 12:00")
    w = choose_windows(frame, DriftParams())
    ref, cur = slice_window(frame, w.reference), slice_window(frame, w.current)
    assert len(ref) == w.reference.n_rows and len(cur) == w.current.n_rows
    assert ref["event_ts"].max() < cur["event_ts"].min()
    assert ref["event_ts"].min() == w.reference.start
    assert cur["event_ts"].max() < w.current.end


def test_overlapping_reference_is_refused() -> None:
    frame = _hourly("2024-01-01 00:00", "2024-01-30 12:00")
    with pytest.raises(WindowError, match="overlaps"):
        choose_windows(frame, DriftParams(), reference=(_d(1), _d(25)))


def test_empty_reference_window() -> None:
    frame = _hourly("2024-01-20 00:00", "2024-01-30 12:00")  # only 11 days of data
    with pytest.raises(WindowError, match=r"reference window .* has no rows"):
        choose_windows(frame, DriftParams(reference_days=14, current_days=11))


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"event_ts": pd.date_range("2024-01-01", periods=3, freq="D")}),  # naive
        pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")}),
        pd.DataFrame({"event_ts": pd.Series([], dtype="datetime64[us, UTC]")}),
    ],
    ids=["naive", "no-column", "empty"],
)
def test_unusable_timestamps(frame: pd.DataFrame) -> None:
    with pytest.raises(WindowError):
        choose_windows(frame, DriftParams())


def test_naive_bound_is_refused() -> None:
    frame = _hourly("2024-01-01 00:00", "2024-01-30 12:00")
    with pytest.raises(WindowError, match="naive"):
        choose_windows(frame, DriftParams(), end=dt.datetime(2024, 1, 30))


def test_describe() -> None:
    frame = _hourly("2024-01-03 05:00", "2024-01-05 07:00")
    assert Window.describe(frame) == Window(start=_d(3), end=_d(6), n_rows=len(frame))
    assert Window.describe(frame.drop(columns="event_ts")) == Window(
        start=None, end=None, n_rows=len(frame)
    )
