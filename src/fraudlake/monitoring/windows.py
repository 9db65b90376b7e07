"""Choose the reference and current windows that a drift report compares.

Pure functions over a features frame with an ``event_ts`` column (``datetime64[..., UTC]``).
Windows are half-open ``[start, end)`` intervals of whole UTC days:

* **current** — the last ``current_days`` calendar days present: it ends at midnight
  after the day of the latest event (or at an explicit ``end``) and starts
  ``current_days`` days earlier. Days without events inside it are not skipped.
* **reference** — by default the ``reference_days`` days that end where the current
  window starts; or an explicit window passed by the caller (e.g. the training window
  ``(train_start, train_start + train_days)``), which must not overlap the current one.

A window that holds no rows is an error (:class:`WindowError`), never a silent empty frame.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fraudlake.params import DriftParams

#: Name of the event-time column every features frame carries.
EVENT_TS = "event_ts"

#: A bound given by the caller: a ``date`` means midnight UTC of that day.
Bound = dt.date | dt.datetime | pd.Timestamp


class WindowError(ValueError):
    """The windows cannot be chosen: no usable timestamps, an empty window, or an overlap."""


class Window(BaseModel):
    """A half-open time window ``[start, end)`` and the rows of the frame inside it.

    ``start``/``end`` are ``None`` only when the frame had no event time to describe
    (a window built by :meth:`describe` over a frame without ``event_ts``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime | None
    end: AwareDatetime | None
    n_rows: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if (self.start is None) != (self.end is None):
            raise ValueError("set both window start and end, or neither")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"window end {self.end} must come after start {self.start}")
        return self

    @property
    def days(self) -> float | None:
        """Length of the window in days, or ``None`` when it has no bounds."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start) / dt.timedelta(days=1)

    @classmethod
    def describe(cls, frame: pd.DataFrame, ts_column: str = EVENT_TS) -> Window:
        """Describe a frame that was cut elsewhere: whole UTC days covering its events.

        ``start`` is midnight of the first event's day, ``end`` midnight after the last
        event's day. Without a (non-empty) ``ts_column`` only ``n_rows`` is known.
        """
        if ts_column not in frame.columns or frame[ts_column].notna().sum() == 0:
            return cls(start=None, end=None, n_rows=len(frame))
        ts = _utc_series(frame, ts_column)
        start = ts.min().floor("D")
        end = ts.max().floor("D") + pd.Timedelta(days=1)
        return cls(start=start.to_pydatetime(), end=end.to_pydatetime(), n_rows=len(frame))


class DriftWindows(BaseModel):
    """The reference and current windows chosen for one drift run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: Window
    current: Window


def _utc_series(frame: pd.DataFrame, ts_column: str) -> pd.Series:
    """``frame[ts_column]`` as tz-aware UTC timestamps; raise on a naive or missing column."""
    if ts_column not in frame.columns:
        raise WindowError(f"features frame has no {ts_column!r} column")
    ts = frame[ts_column]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise WindowError(
            f"{ts_column!r} must be a timezone-aware datetime64 column (UTC), got {ts.dtype}"
        )
    return ts.dt.tz_convert("UTC")


def _to_utc(bound: Bound, name: str) -> pd.Timestamp:
    """A caller's bound as a UTC timestamp; a bare date is midnight UTC, naive is refused."""
    if isinstance(bound, dt.date) and not isinstance(bound, dt.datetime):
        return pd.Timestamp(bound).tz_localize("UTC")
    stamp = pd.Timestamp(bound)
    if stamp.tzinfo is None:
        raise WindowError(f"{name} {bound!r} is a naive datetime: give a timezone (UTC)")
    return stamp.tz_convert("UTC")


def _count(ts: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> int:
    return int(((ts >= start) & (ts < end)).sum())


def choose_windows(
    frame: pd.DataFrame,
    params: DriftParams,
    *,
    reference: tuple[Bound, Bound] | None = None,
    end: Bound | None = None,
    ts_column: str = EVENT_TS,
) -> DriftWindows:
    """Pick the reference and current windows for ``frame`` (see the module docstring).

    Args:
        frame: features with a tz-aware ``ts_column``; rows with a null timestamp are ignored.
        params: ``reference_days`` and ``current_days`` size the default windows.
        reference: explicit reference window ``(start, end)``, end exclusive; dates mean
            midnight UTC. Replaces the default reference window.
        end: exclusive end of the current window; defaults to midnight after the latest event.
        ts_column: name of the event-time column.

    Returns:
        Both windows with their row counts (each ``> 0``).

    Raises:
        WindowError: no usable timestamps, a naive timestamp column or bound, an explicit
            reference window that overlaps the current one, or a window without rows.
    """
    ts = _utc_series(frame, ts_column).dropna()
    if ts.empty:
        raise WindowError(f"features frame has no rows with a {ts_column!r} value")

    cur_end = ts.max().floor("D") + pd.Timedelta(days=1) if end is None else _to_utc(end, "end")
    cur_start = cur_end - pd.Timedelta(days=params.current_days)

    if reference is None:
        ref_end = cur_start
        ref_start = ref_end - pd.Timedelta(days=params.reference_days)
    else:
        ref_start = _to_utc(reference[0], "reference start")
        ref_end = _to_utc(reference[1], "reference end")
        if ref_end <= ref_start:
            raise WindowError(f"reference window end {ref_end} must come after start {ref_start}")
        if ref_start < cur_end and cur_start < ref_end:
            raise WindowError(
                f"reference window [{ref_start}, {ref_end}) overlaps the current window "
                f"[{cur_start}, {cur_end}): a window cannot be compared with itself"
            )

    windows = DriftWindows(
        reference=Window(
            start=ref_start.to_pydatetime(),
            end=ref_end.to_pydatetime(),
            n_rows=_count(ts, ref_start, ref_end),
        ),
        current=Window(
            start=cur_start.to_pydatetime(),
            end=cur_end.to_pydatetime(),
            n_rows=_count(ts, cur_start, cur_end),
        ),
    )
    for name, window in (("reference", windows.reference), ("current", windows.current)):
        if window.n_rows == 0:
            raise WindowError(
                f"{name} window [{window.start}, {window.end}) has no rows; data spans "
                f"[{ts.min()}, {ts.max()}]"
            )
    return windows


def slice_window(frame: pd.DataFrame, window: Window, ts_column: str = EVENT_TS) -> pd.DataFrame:
    """Rows of ``frame`` whose ``ts_column`` lies in ``[window.start, window.end)``.

    Returns a copy, index preserved. Raises :class:`WindowError` for an unbounded window.
    """
    if window.start is None or window.end is None:
        raise WindowError("cannot slice by a window without start and end")
    ts = _utc_series(frame, ts_column)
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    return frame.loc[(ts >= start) & (ts < end)].copy()
