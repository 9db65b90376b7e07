"""Delayed-label performance of the champion: has it got worse since it was registered?

Pure functions over a frame of the champion's scores (``event_ts``, ``card_id``,
``is_fraud``, ``score`` and, for the handbook protocol, ``label_reported_at``):

* :func:`maturity_cutoff` / :func:`matured_window` — which days have matured labels;
* :func:`window_rows` / :func:`matured_rows` — the rows to evaluate, with cards already
  known compromised taken out as the training split does;
* :func:`performance_verdict` — the thresholding of the average-precision drop;
* :func:`assess_performance` — metrics (:func:`fraudlake.training.metrics.evaluate`) of the
  matured rows against the champion's hold-out metrics, as a :class:`PerformanceVerdict`.

**Why only matured labels.** Frauds are reported by investigations days after the
transaction (``simulate.labels.delay_days_max`` later at most). A fraud nobody has
reported yet is labelled genuine, so on recent days the champion's correct alerts look
like false positives and its average precision looks lower than it is: measured there,
every model would seem to decay and retraining would be triggered by the calendar, not by
the model. Only transactions older than ``train.label_maturity_days`` before the newest
day count — the same cut the training split makes before its hold-out, so the current
metrics and the hold-out metrics they are compared with are measured the same way.

**Which window.** The matured window is the newest ``drift.current_days`` days whose labels
have matured: ``[cutoff - current_days, cutoff)`` with ``cutoff`` the midnight after the
newest event's day minus ``label_maturity_days``. (Filtering the drift's current window
instead would leave nothing whenever the maturity exceeds the window, as by default.)
Right after training that window is the champion's own hold-out, so the drop is about 0;
it moves past the hold-out as new days arrive.

**Verdict** (absolute drop = hold-out AP - current AP; bounds strict, as for drift):
``drop > drift.performance_drop_retrain`` → ``"retrain"``; else
``drop > drift.performance_drop_investigate`` → ``"investigate"``; else ``"ok"`` (an
improvement is ``"ok"``). An undefined current or hold-out AP (no matured rows, no fraud
among them, nothing recorded at registration) is ``"investigate"`` with the reason — never
an exception: a monitor that cannot measure must say so, not crash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fraudlake.atomic_write import write_text_atomic
from fraudlake.monitoring.verdict import VerdictLabel, utc_now
from fraudlake.monitoring.windows import EVENT_TS, Window, WindowError
from fraudlake.params import DecisionParams, DriftParams
from fraudlake.training.metrics import PREDICTION_COLUMNS, evaluate
from fraudlake.training.split import known_compromised_cards, utc_timestamps

#: The metric whose drop decides the verdict (the registry selects and gates on it too).
PRIMARY_METRIC = "average_precision"

#: File name of the performance verdict inside a monitoring run's folder.
PERFORMANCE_FILE = "performance.json"

#: Reason of the performance part when the registry has no champion to measure.
NO_CHAMPION = "no champion"

_DAY = pd.Timedelta(days=1)


def _finite(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` when missing or not finite (strict JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _finite_map(values: Mapping[str, float | None]) -> dict[str, float | None]:
    return {key: _finite(value) for key, value in values.items()}


# -- which rows count ---------------------------------------------------------------------


def maturity_cutoff(newest: pd.Timestamp, label_maturity_days: int) -> pd.Timestamp:
    """Exclusive end of the matured period: midnight after ``newest``'s UTC day, minus
    ``label_maturity_days`` days (``split_windows`` ends its hold-out at the same instant).

    ``newest`` must be tz-aware; raises ``ValueError`` for a negative maturity.
    """
    if label_maturity_days < 0:
        raise ValueError(f"label_maturity_days must be >= 0, got {label_maturity_days}")
    if newest.tzinfo is None:
        raise ValueError(f"newest {newest} is a naive timestamp: give a timezone (UTC)")
    return newest.tz_convert("UTC").floor("D") + _DAY - label_maturity_days * _DAY


def matured_window(
    frame: pd.DataFrame,
    window_days: int,
    label_maturity_days: int,
    ts_column: str = EVENT_TS,
) -> Window:
    """The newest ``window_days`` whole UTC days whose labels have matured, with its rows.

    ``[cutoff - window_days, cutoff)`` where ``cutoff`` is :func:`maturity_cutoff` of the
    frame's newest event. The window may hold no rows (``n_rows == 0``): the caller decides
    what that means. Raises :class:`~fraudlake.monitoring.windows.WindowError` when the frame
    has no usable timestamps, ``ValueError`` when ``window_days < 1``.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    if ts_column not in frame.columns:
        raise WindowError(f"frame has no {ts_column!r} column")
    ts = utc_timestamps(frame[ts_column]).dropna()
    if ts.empty:
        raise WindowError(f"frame has no rows with a {ts_column!r} value")
    end = maturity_cutoff(ts.max(), label_maturity_days)
    start = end - window_days * _DAY
    n_rows = int(((ts >= start) & (ts < end)).sum())
    return Window(start=start.to_pydatetime(), end=end.to_pydatetime(), n_rows=n_rows)


@dataclass(frozen=True)
class EvaluatedRows:
    """Rows of one window to evaluate, after the known-compromised protocol.

    ``rows`` keeps the input's columns and index; ``removed_rows`` / ``removed_cards`` count
    what the protocol took out (0 when it was off or ``label_reported_at`` is missing).
    """

    window: Window
    rows: pd.DataFrame
    removed_rows: int
    removed_cards: int


def window_rows(
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    lookback_days: int,
    drop_known_compromised: bool = True,
    ts_column: str = EVENT_TS,
) -> EvaluatedRows:
    """Rows with ``start <= ts < end``; with ``drop_known_compromised`` (the default, as
    training's hold-out) each day's rows of cards whose fraud was reported before that day
    are removed — an issuer would already have blocked them.

    A card counts as known from transactions since ``start - lookback_days`` (training uses
    its training start, i.e. ``train_days + gap_days`` before the hold-out). Without a
    ``label_reported_at`` column nothing is removed. ``start``/``end`` are tz-aware.
    """
    ts = utc_timestamps(frame[ts_column])
    inside = (ts >= start) & (ts < end)
    rows = frame.loc[inside]
    window = Window(start=start.to_pydatetime(), end=end.to_pydatetime(), n_rows=len(rows))
    if not drop_known_compromised or "label_reported_at" not in frame.columns or rows.empty:
        return EvaluatedRows(window, rows, 0, 0)
    since = start - lookback_days * _DAY
    history = frame.loc[(ts >= since) & (ts < end)]
    days = ts[inside].dt.floor("D")
    drop = pd.Series(False, index=rows.index)
    for day_start in sorted(days.unique()):
        known = known_compromised_cards(history, day_start, since=since)
        drop |= (days == day_start) & rows["card_id"].astype(str).isin(known)
    removed_cards = int(rows.loc[drop, "card_id"].astype(str).nunique())
    return EvaluatedRows(window, rows.loc[~drop], int(drop.sum()), removed_cards)


def matured_rows(
    scored: pd.DataFrame,
    *,
    window_days: int,
    label_maturity_days: int,
    lookback_days: int,
    drop_known_compromised: bool = True,
    ts_column: str = EVENT_TS,
) -> EvaluatedRows:
    """:func:`window_rows` of the :func:`matured_window` of ``scored``.

    Rows newer than the maturity cutoff are never among the result, whatever their label.
    """
    window = matured_window(scored, window_days, label_maturity_days, ts_column)
    assert window.start is not None and window.end is not None  # matured_window sets both
    return window_rows(
        scored,
        pd.Timestamp(window.start),
        pd.Timestamp(window.end),
        lookback_days=lookback_days,
        drop_known_compromised=drop_known_compromised,
        ts_column=ts_column,
    )


# -- the verdict ----------------------------------------------------------------------------


def performance_verdict(
    current: float | None, baseline: float | None, params: DriftParams
) -> tuple[VerdictLabel, str]:
    """(verdict, reason) for the champion's current and hold-out average precision.

    ``drop = baseline - current``: ``drop > performance_drop_retrain`` → ``"retrain"``;
    ``drop > performance_drop_investigate`` → ``"investigate"``; else ``"ok"``. ``None`` or
    NaN on either side → ``"investigate"`` (the reason says which). Never raises for the
    values; the thresholds' order is validated by :class:`DriftParams`.
    """
    cur, base = _finite(current), _finite(baseline)
    if base is None:
        return "investigate", (
            f"{PRIMARY_METRIC} of the champion's hold-out at registration is unknown: "
            "nothing to compare with"
        )
    if cur is None:
        return "investigate", (
            f"{PRIMARY_METRIC} is undefined on the matured window (no fraud among its "
            f"labelled transactions); hold-out {base:.4f}"
        )
    drop = base - cur
    measured = f"{PRIMARY_METRIC} {cur:.4f} vs {base:.4f} on the hold-out (drop {drop:+.4f})"
    if drop > params.performance_drop_retrain:
        return (
            "retrain",
            f"{measured} > drift.performance_drop_retrain {params.performance_drop_retrain}",
        )
    if drop > params.performance_drop_investigate:
        return "investigate", (
            f"{measured} > drift.performance_drop_investigate {params.performance_drop_investigate}"
        )
    bound = params.performance_drop_investigate
    return "ok", f"{measured} within drift.performance_drop_investigate {bound}"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerformanceThresholds(_Frozen):
    """The verdict's bounds on the absolute drop (copied from :class:`DriftParams`)."""

    investigate_drop: float
    retrain_drop: float


class PerformanceVerdict(_Frozen):
    """Outcome of one performance check; serialised as ``performance.json``.

    ``current`` / ``baseline`` are the champion's ``metric`` on the matured window and on its
    hold-out at registration, ``drop = baseline - current`` (``None`` when either is
    unknown). Metric maps hold ``None`` for undefined values (e.g. ROC AUC without fraud).
    ``window`` is ``None`` only when no window could be chosen (no champion, no scores).
    """

    verdict: VerdictLabel
    reason: str
    metric: str = PRIMARY_METRIC
    current: float | None = None
    baseline: float | None = None
    drop: float | None = None
    thresholds: PerformanceThresholds
    champion_version: int | None = None
    label_maturity_days: int = Field(ge=0)
    window: Window | None = None
    n_rows: int = Field(0, ge=0)
    """Rows evaluated (after the known-compromised protocol)."""
    n_fraud: int = Field(0, ge=0)
    removed_known_compromised_rows: int = Field(0, ge=0)
    current_metrics: dict[str, float | None] = Field(default_factory=dict)
    baseline_metrics: dict[str, float | None] = Field(default_factory=dict)
    generated_at: AwareDatetime = Field(default_factory=utc_now)

    def write(self, path: Path) -> Path:
        """Write indented JSON atomically to ``path`` (folders created)."""
        target = Path(path)
        return write_text_atomic(target, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: Path | str) -> PerformanceVerdict:
        """Load and validate a ``performance.json``."""
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def thresholds_of(params: DriftParams) -> PerformanceThresholds:
    """The performance bounds of ``params``."""
    return PerformanceThresholds(
        investigate_drop=params.performance_drop_investigate,
        retrain_drop=params.performance_drop_retrain,
    )


def unmeasured(
    reason: str,
    params: DriftParams,
    *,
    label_maturity_days: int,
    champion_version: int | None = None,
    baseline_metrics: Mapping[str, float | None] | None = None,
) -> PerformanceVerdict:
    """An ``"investigate"`` verdict for a check that could not measure (``reason`` says why),
    e.g. :data:`NO_CHAMPION`."""
    return PerformanceVerdict(
        verdict="investigate",
        reason=reason,
        thresholds=thresholds_of(params),
        champion_version=champion_version,
        label_maturity_days=label_maturity_days,
        baseline_metrics=_finite_map(baseline_metrics or {}),
    )


def assess_performance(
    evaluated: EvaluatedRows,
    baseline_metrics: Mapping[str, float | None],
    params: DriftParams,
    decision: DecisionParams,
    *,
    label_maturity_days: int,
    champion_version: int | None = None,
    top_k: int = 100,
) -> PerformanceVerdict:
    """The champion's metrics on ``evaluated`` (matured rows with its ``score``) compared with
    ``baseline_metrics`` (its hold-out metrics at registration).

    Current metrics are :func:`~fraudlake.training.metrics.evaluate` with ``decision`` and
    ``top_k`` (as training uses); only the keys present on both sides are kept as baseline.
    No rows → ``"investigate"``; no fraud → ``"investigate"`` (AP undefined). Raises
    ``ValueError`` only when rows lack a column of
    :data:`~fraudlake.training.metrics.PREDICTION_COLUMNS`.
    """
    rows = evaluated.rows
    missing = [c for c in PREDICTION_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"scored rows lack column(s) {', '.join(missing)}")
    current_metrics: dict[str, float] = {}
    baseline: dict[str, float | None] = dict(baseline_metrics)
    n_fraud = 0
    if rows.empty:
        window = evaluated.window
        verdict: VerdictLabel = "investigate"
        reason = (
            f"no matured transactions in [{window.start}, {window.end}): labels of the last "
            f"{label_maturity_days} days are still open and nothing older is in the lake"
        )
    else:
        predictions = rows[list(PREDICTION_COLUMNS)].assign(is_fraud=rows["is_fraud"].astype(int))
        n_fraud = int(predictions["is_fraud"].sum())
        current_metrics = evaluate(predictions, decision, top_k=top_k)
        # compare like with like: the run also logged row counts and timings
        baseline = {k: v for k, v in baseline_metrics.items() if k in current_metrics}
        verdict, reason = performance_verdict(
            current_metrics.get(PRIMARY_METRIC), baseline.get(PRIMARY_METRIC), params
        )
    current_value = _finite(current_metrics.get(PRIMARY_METRIC))
    baseline_value = _finite(baseline.get(PRIMARY_METRIC))
    drop = None
    if current_value is not None and baseline_value is not None:
        drop = baseline_value - current_value
    return PerformanceVerdict(
        verdict=verdict,
        reason=reason,
        current=current_value,
        baseline=baseline_value,
        drop=drop,
        thresholds=thresholds_of(params),
        champion_version=champion_version,
        label_maturity_days=label_maturity_days,
        window=evaluated.window,
        n_rows=len(rows),
        n_fraud=n_fraud,
        removed_known_compromised_rows=evaluated.removed_rows,
        current_metrics=_finite_map(current_metrics),
        baseline_metrics=_finite_map(baseline),
    )
