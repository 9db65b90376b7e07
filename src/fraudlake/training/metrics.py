"""Fraud-detection metrics: threshold-free, card-based and at the decision thresholds.

Card Precision@k follows the Fraud Detection Handbook (Le Borgne et al., chapter
"Performance metrics", functions ``card_precision_top_k_day`` and
``card_precision_top_k``) exactly:

- for each day, every card gets the *maximum* score and the *maximum* label of its
  transactions that day;
- the ``k`` cards with the highest score are the ones investigators check that day;
  precision is the number of fraudulent cards among them divided by ``k`` (also when
  fewer than ``k`` cards were active);
- optionally (the handbook's default) a card detected as compromised on one day — in that
  day's top ``k`` and fraudulent — is removed from all later days, since it would have
  been blocked;
- the metric is the mean over the days present, in date order.

Days are UTC calendar days of ``event_ts``. Among cards with equal scores the one with the
smaller ``card_id`` ranks first (the handbook leaves ties to the sort implementation).

Decision metrics use ``score >= threshold`` as "flagged": at the review threshold that is
every transaction sent to review *or* declined, at the decline threshold the declines.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from fraudlake.params import DecisionParams

ArrayLike = npt.ArrayLike

#: Columns a predictions frame carries for :func:`evaluate` and Card Precision@k.
PREDICTION_COLUMNS: tuple[str, ...] = ("event_ts", "card_id", "is_fraud", "score")


def _labels_scores(y_true: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if y.size == 0:
        raise ValueError("no labels to evaluate")
    return y, s


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, s = _labels_scores(y_true, scores)
    if np.unique(y).size < 2:
        return math.nan
    return float(roc_auc_score(y, s))


def average_precision(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Average precision (area under the precision-recall curve, step-wise, as scikit-learn);
    NaN when there is no positive."""
    y, s = _labels_scores(y_true, scores)
    if not y.any():
        return math.nan
    return float(average_precision_score(y, s))


@dataclass(frozen=True)
class ThresholdMetrics:
    """Confusion-matrix rates when every ``score >= threshold`` is flagged.

    ``precision`` is 0 when nothing is flagged, ``recall`` 0 when there is no fraud and
    ``fpr`` 0 when there is no genuine transaction (scikit-learn's ``zero_division=0``).
    ``alert_rate`` is the share of transactions flagged.
    """

    threshold: float
    precision: float
    recall: float
    fpr: float
    alert_rate: float
    tp: int
    fp: int
    fn: int
    tn: int


def threshold_metrics(y_true: ArrayLike, scores: ArrayLike, threshold: float) -> ThresholdMetrics:
    """Precision, recall, false-positive rate and alert rate at ``threshold``."""
    y, s = _labels_scores(y_true, scores)
    flagged = s >= threshold
    positive = y == 1
    tp = int(np.sum(flagged & positive))
    fp = int(np.sum(flagged & ~positive))
    fn = int(np.sum(~flagged & positive))
    tn = int(np.sum(~flagged & ~positive))
    return ThresholdMetrics(
        threshold=float(threshold),
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        fpr=fp / (fp + tn) if fp + tn else 0.0,
        alert_rate=(tp + fp) / y.size,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
    )


def card_precision_top_k_day(day: pd.DataFrame, k: int) -> tuple[list[str], float]:
    """One day of Card Precision@k (handbook ``card_precision_top_k_day``).

    ``day`` holds that day's transactions with ``card_id``, ``score`` and ``is_fraud``.
    Returns the detected compromised cards (fraudulent cards in the top ``k``, in rank
    order) and their number divided by ``k``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    per_card = (
        day.assign(card_id=day["card_id"].astype(str), is_fraud=day["is_fraud"].astype(int))
        .groupby("card_id", sort=True)[["score", "is_fraud"]]
        .max()
        .sort_values("score", ascending=False, kind="mergesort")
    )
    top = per_card.head(k)
    detected = [str(c) for c in top.index[top["is_fraud"] == 1]]
    return detected, len(detected) / k


@dataclass(frozen=True)
class CardPrecisionAtK:
    """Card Precision@k over several days (handbook ``card_precision_top_k``).

    ``per_day`` maps each day to its precision, ``compromised_per_day`` to the number of
    fraudulent cards still in play that day (after removing earlier detections), and
    ``mean`` is the mean of ``per_day``.
    """

    k: int
    mean: float
    per_day: dict[dt.date, float]
    compromised_per_day: dict[dt.date, int]


def utc_days(event_ts: pd.Series) -> pd.Series:
    """UTC calendar day of each timestamp (naive timestamps are taken as UTC)."""
    ts = pd.to_datetime(event_ts)
    ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
    return ts.dt.date


def card_precision_top_k(
    predictions: pd.DataFrame, k: int, *, remove_detected: bool = True
) -> CardPrecisionAtK:
    """Card Precision@k per day and its mean over the days of ``predictions``.

    ``predictions`` has ``event_ts``, ``card_id``, ``is_fraud`` and ``score``. With
    ``remove_detected`` (the handbook's default) cards detected on a day are dropped from
    every later day before ranking. Raises ``ValueError`` on an empty frame.
    """
    if predictions.empty:
        raise ValueError("no predictions to evaluate")
    frame = predictions[["card_id", "is_fraud", "score"]].assign(
        day=utc_days(predictions["event_ts"])
    )
    detected: set[str] = set()
    per_day: dict[dt.date, float] = {}
    compromised: dict[dt.date, int] = {}
    for key, day_rows in frame.groupby("day", sort=True):
        day: dt.date = key  # type: ignore[assignment]
        rows = day_rows[~day_rows["card_id"].astype(str).isin(detected)]
        compromised[day] = int(rows.loc[rows["is_fraud"].astype(int) == 1, "card_id"].nunique())
        found, precision = card_precision_top_k_day(rows, k)
        per_day[day] = precision
        if remove_detected:
            detected.update(found)
    return CardPrecisionAtK(
        k=k,
        mean=float(np.mean(list(per_day.values()))),
        per_day=per_day,
        compromised_per_day=compromised,
    )


#: Decision thresholds evaluate() reports at, in order.
DECISION_LEVELS: tuple[str, ...] = ("review", "decline")


def headline_metrics(top_k: int = 100) -> list[str]:
    """The keys :func:`evaluate` returns, in its order."""
    return [
        "roc_auc",
        "average_precision",
        f"card_precision_at_{top_k}",
        *(
            f"{kind}_at_{level}"
            for level in DECISION_LEVELS
            for kind in ("precision", "recall", "fpr", "alert_rate")
        ),
    ]


def evaluate(
    predictions: pd.DataFrame, decision: DecisionParams, *, top_k: int = 100
) -> dict[str, float]:
    """Every headline metric of one model on one test set, as a flat name → value map.

    Keys: ``roc_auc``, ``average_precision``, ``card_precision_at_<k>``, and for
    ``<t>`` in ``review``, ``decline``: ``precision_at_<t>``, ``recall_at_<t>``,
    ``fpr_at_<t>``, ``alert_rate_at_<t>``. ``predictions`` has the columns in
    :data:`PREDICTION_COLUMNS`. The promotion gate compares these keys.
    """
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack column(s) {', '.join(missing)}")
    y = predictions["is_fraud"].to_numpy()
    s = predictions["score"].to_numpy()
    out = {
        "roc_auc": roc_auc(y, s),
        "average_precision": average_precision(y, s),
        f"card_precision_at_{top_k}": card_precision_top_k(predictions, top_k).mean,
    }
    for name, threshold in (
        ("review", decision.review_threshold),
        ("decline", decision.decline_threshold),
    ):
        m = threshold_metrics(y, s, threshold)
        out[f"precision_at_{name}"] = m.precision
        out[f"recall_at_{name}"] = m.recall
        out[f"fpr_at_{name}"] = m.fpr
        out[f"alert_rate_at_{name}"] = m.alert_rate
    return out
