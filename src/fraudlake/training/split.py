"""Time-ordered train / gap / test split.

Windows are whole UTC days, half-open ``[start, end)``. Two ways to place them (see
:class:`~fraudlake.params.TrainParams`):

- **relative** (default): counted back from the last day present in the data — the test
  window is the last ``test_days`` days before the final ``label_maturity_days`` (whose
  labels are still under investigation), the gap the ``gap_days`` before it and the
  training window the ``train_days`` before the gap;
- **explicit**: ``train_start`` starts ``train_days`` days of training, ``test_start``
  starts ``test_days`` days of test; the gap is whatever lies between.

Rows of the gap are in neither set: their labels would still be under investigation when
the model is used, and they keep the test period's delayed labels out of training.

Handbook protocol (Le Borgne et al., "Fraud Detection Handbook", ``get_train_test_set``):
cards already *known* to be compromised are removed from each test day, since an issuer
would have blocked them. A card is known on test day ``d`` when one of its transactions
from the training start on carries a fraud label with ``label_reported_at`` before
midnight of ``d`` — the handbook's "frauds of the training days and of the delay period
up to the day before ``d`` minus the delay", with the real report times instead of a fixed
delay. History before the training start does not count, as in the handbook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from fraudlake.params import TrainParams

#: Columns the split reads.
REQUIRED_COLUMNS: tuple[str, ...] = ("event_ts", "card_id", "is_fraud", "label_reported_at")


class SplitError(ValueError):
    """The frame cannot be split as asked (missing columns, empty or overlapping sets)."""


@dataclass(frozen=True)
class DateWindow:
    """Whole UTC days ``[start, end)``; ``end`` is the first day *not* included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise SplitError(f"empty window: {self.start} .. {self.end}")

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return (self.end - self.start).days

    @property
    def start_ts(self) -> pd.Timestamp:
        """Midnight UTC starting the window."""
        return pd.Timestamp(self.start, tz="UTC")

    @property
    def end_ts(self) -> pd.Timestamp:
        """Midnight UTC ending the window (excluded)."""
        return pd.Timestamp(self.end, tz="UTC")

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class Split:
    """The result of :func:`split_train_test`.

    ``train`` and ``test`` are copies sorted by ``event_ts`` (then ``transaction_id`` when
    present), with a fresh index. ``removed_cards`` are the known-compromised cards taken
    out of the test set and ``removed_rows`` how many test rows they had.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    train_window: DateWindow
    test_window: DateWindow
    removed_cards: frozenset[str]
    removed_rows: int

    @property
    def gap_days(self) -> int:
        """Days between the end of training and the start of the test."""
        return (self.test_window.start - self.train_window.end).days


def utc_timestamps(values: pd.Series) -> pd.Series:
    """``values`` as tz-aware UTC timestamps; naive values are taken to be UTC already."""
    ts = pd.to_datetime(values)
    if ts.dt.tz is None:
        return ts.dt.tz_localize("UTC")
    return ts.dt.tz_convert("UTC")


def split_windows(
    first_day: dt.date, last_day: dt.date, params: TrainParams
) -> tuple[DateWindow, DateWindow]:
    """Training and test windows for data spanning ``first_day`` .. ``last_day`` (inclusive).

    Relative mode counts back from ``last_day``; explicit mode uses ``params.train_start``
    and ``params.test_start``. ``first_day`` is only used to reject a training window that
    lies entirely before the data. Raises :class:`SplitError` when the windows overlap or
    the test window does not reach the data.
    """
    if params.train_start is not None and params.test_start is not None:
        train = DateWindow(
            params.train_start, params.train_start + dt.timedelta(days=params.train_days)
        )
        test = DateWindow(
            params.test_start, params.test_start + dt.timedelta(days=params.test_days)
        )
        if test.start < train.end:
            raise SplitError(
                f"test window {test} overlaps training window {train}: "
                "move train.test_start later or shorten train.train_days"
            )
    else:
        test_end = last_day + dt.timedelta(days=1 - params.label_maturity_days)
        test = DateWindow(test_end - dt.timedelta(days=params.test_days), test_end)
        train_end = test.start - dt.timedelta(days=params.gap_days)
        train = DateWindow(train_end - dt.timedelta(days=params.train_days), train_end)
    if train.end <= first_day:
        raise SplitError(f"training window {train} ends before the data starts ({first_day})")
    if test.start > last_day:
        raise SplitError(f"test window {test} starts after the data ends ({last_day})")
    return train, test


def known_compromised_cards(
    frame: pd.DataFrame, as_of: pd.Timestamp, since: pd.Timestamp | None = None
) -> frozenset[str]:
    """Cards with a fraud label reported strictly before ``as_of`` (tz-aware UTC), counting
    only transactions at or after ``since`` when given.

    Reads ``card_id``, ``is_fraud``, ``label_reported_at`` (and ``event_ts`` with
    ``since``); rows without a report time (NaT) never count.
    """
    reported = utc_timestamps(frame["label_reported_at"])
    known = (frame["is_fraud"].astype(int) == 1) & reported.notna() & (reported < as_of)
    if since is not None:
        known &= utc_timestamps(frame["event_ts"]) >= since
    return frozenset(frame.loc[known, "card_id"].astype(str).unique())


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["event_ts", "transaction_id"] if "transaction_id" in frame.columns else ["event_ts"]
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def split_train_test(
    frame: pd.DataFrame, params: TrainParams, *, drop_known_compromised: bool = True
) -> Split:
    """Split ``frame`` into time-ordered training and test sets as ``params`` say.

    Every training row has ``event_ts`` in the training window, every test row in the test
    window, so no test row is earlier than training end + gap. With
    ``drop_known_compromised`` (the handbook protocol, on by default) the test rows of
    cards in :func:`known_compromised_cards` at the test start are removed. The input is
    not modified. Raises :class:`SplitError` on missing columns or an empty set.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SplitError(f"cannot split: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise SplitError("cannot split an empty frame")
    ts = utc_timestamps(frame["event_ts"])
    first_day = ts.min().date()
    last_day = ts.max().date()
    train_window, test_window = split_windows(first_day, last_day, params)

    in_train = (ts >= train_window.start_ts) & (ts < train_window.end_ts)
    in_test = (ts >= test_window.start_ts) & (ts < test_window.end_ts)
    train = frame.loc[in_train]
    test = frame.loc[in_test]

    removed: frozenset[str] = frozenset()
    removed_rows = 0
    if drop_known_compromised:
        history = frame.loc[(ts >= train_window.start_ts) & (ts < test_window.end_ts)]
        test_days = ts[in_test].dt.floor("D")
        drop = pd.Series(False, index=test.index)
        cards: set[str] = set()
        for day_start in sorted(test_days.unique()):
            known = known_compromised_cards(history, day_start, since=train_window.start_ts)
            on_day = test_days == day_start
            drop |= on_day & test["card_id"].astype(str).isin(known)
            cards |= known
        removed = frozenset(cards & set(test.loc[drop, "card_id"].astype(str)))
        removed_rows = int(drop.sum())
        test = test.loc[~drop]

    if train.empty:
        raise SplitError(f"no rows in the training window {train_window}")
    if test.empty:
        raise SplitError(f"no rows left in the test window {test_window}")
    return Split(
        train=_sorted(train),
        test=_sorted(test),
        train_window=train_window,
        test_window=test_window,
        removed_cards=removed,
        removed_rows=removed_rows,
    )
