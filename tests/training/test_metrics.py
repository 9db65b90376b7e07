"""Metrics against small hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from fraudlake.params import DecisionParams
from fraudlake.training.metrics import (
    average_precision,
    card_precision_top_k,
    card_precision_top_k_day,
    evaluate,
    roc_auc,
    threshold_metrics,
)

D1, D2, D3 = dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3)


def tx(day: dt.date, hour: int, card: str, score: float, fraud: int) -> dict[str, object]:
    return {
        "event_ts": pd.Timestamp(dt.datetime.combine(day, dt.time(hour)), tz="UTC"),
        "card_id": card,
        "score": score,
        "is_fraud": fraud,
    }


@pytest.fixture()
def three_days() -> pd.DataFrame:
    """Per day, per card (max score, max label):

    day 1: A (0.9, 1) B (0.8, 0) C (0.7, 1) D (0.1, 1)
    day 2: A (0.95, 1) C (0.6, 1) D (0.5, 0) E (0.4, 1)
    day 3: C (0.9, 1) E (0.3, 1)
    """
    return pd.DataFrame(
        [
            tx(D1, 1, "A", 0.9, 0),
            tx(D1, 2, "A", 0.2, 1),  # max score 0.9 and max label 1 come from different rows
            tx(D1, 3, "B", 0.8, 0),
            tx(D1, 4, "C", 0.7, 1),
            tx(D1, 23, "D", 0.1, 1),
            tx(D2, 0, "A", 0.95, 1),
            tx(D2, 5, "C", 0.6, 1),
            tx(D2, 6, "D", 0.5, 0),
            tx(D2, 7, "E", 0.4, 1),
            tx(D3, 8, "C", 0.9, 1),
            tx(D3, 9, "E", 0.3, 1),
        ]
    )


def test_card_precision_day_takes_card_maxima(three_days: pd.DataFrame) -> None:
    day1 = three_days[three_days["event_ts"].dt.date == D1]
    detected, precision = card_precision_top_k_day(day1, 2)
    assert detected == ["A"]  # top 2: A (0.9, fraud via its other row), B (0.8, genuine)
    assert precision == 0.5
    detected, precision = card_precision_top_k_day(day1, 3)
    assert detected == ["A", "C"]
    assert precision == pytest.approx(2 / 3)


def test_card_precision_divides_by_k_even_with_fewer_cards(three_days: pd.DataFrame) -> None:
    day3 = three_days[three_days["event_ts"].dt.date == D3]
    assert card_precision_top_k_day(day3, 10) == (["C", "E"], 0.2)


def test_card_precision_removes_detected_cards_from_later_days(three_days: pd.DataFrame) -> None:
    cp = card_precision_top_k(three_days, 2)
    # day 1: A, B -> 1/2, A detected
    # day 2 without A: C (0.6, 1), D (0.5, 0) -> 1/2, C detected
    # day 3 without A, C: E alone -> 1/2 (divided by k)
    assert cp.per_day == {D1: 0.5, D2: 0.5, D3: 0.5}
    assert cp.mean == pytest.approx(0.5)
    assert cp.compromised_per_day == {D1: 3, D2: 2, D3: 1}


def test_card_precision_without_removal(three_days: pd.DataFrame) -> None:
    cp = card_precision_top_k(three_days, 2, remove_detected=False)
    # day 2: A (0.95, 1), C (0.6, 1) -> 1; day 3: C, E -> 1
    assert cp.per_day == {D1: 0.5, D2: 1.0, D3: 1.0}
    assert cp.mean == pytest.approx((0.5 + 1 + 1) / 3)
    assert cp.compromised_per_day == {D1: 3, D2: 3, D3: 2}


def test_card_precision_days_are_utc_days() -> None:
    # 00:30 at UTC+2 on 2 March is 22:30 UTC on 1 March: same day as the other row
    frame = pd.DataFrame(
        {
            "event_ts": pd.to_datetime(["2024-03-01 12:00+02:00", "2024-03-02 00:30+02:00"]),
            "card_id": ["A", "B"],
            "score": [0.2, 0.9],
            "is_fraud": [1, 0],
        }
    )
    cp = card_precision_top_k(frame, 1)
    assert cp.per_day == {D1: 0.0}  # one day, B ranks first and is genuine


def test_card_precision_ties_rank_smaller_card_id_first() -> None:
    day = pd.DataFrame([tx(D1, 1, "b", 0.5, 1), tx(D1, 2, "a", 0.5, 0)])
    assert card_precision_top_k_day(day, 1) == ([], 0.0)


def test_roc_auc_and_average_precision_by_hand() -> None:
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    # positive-negative pairs ranked right: (.35>.1) (.8>.1) (.8>.4) of 4 -> 0.75
    assert roc_auc(y, s) == pytest.approx(0.75)
    # ranking .8(1) .4(0) .35(1) .1(0): AP = 0.5 * 1 + 0.5 * 2/3
    assert average_precision(y, s) == pytest.approx(0.5 + 1 / 3)


def test_single_class_metrics_are_nan() -> None:
    assert math.isnan(roc_auc([0, 0], [0.1, 0.2]))
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))
    with pytest.raises(ValueError):
        roc_auc([0, 1], [0.1])


def test_threshold_metrics_by_hand() -> None:
    y = [1, 1, 0, 0, 0, 1, 0]
    s = [0.95, 0.6, 0.55, 0.2, 0.91, 0.1, 0.5]
    review = threshold_metrics(y, s, 0.5)  # 0.5 itself is flagged
    assert (review.tp, review.fp, review.fn, review.tn) == (2, 3, 1, 1)
    assert review.precision == pytest.approx(2 / 5)
    assert review.recall == pytest.approx(2 / 3)
    assert review.fpr == pytest.approx(3 / 4)
    assert review.alert_rate == pytest.approx(5 / 7)
    decline = threshold_metrics(y, s, 0.9)
    assert (decline.tp, decline.fp, decline.fn, decline.tn) == (1, 1, 2, 3)
    assert decline.precision == pytest.approx(0.5)
    assert decline.recall == pytest.approx(1 / 3)
    assert decline.fpr == pytest.approx(1 / 4)


def test_threshold_metrics_nothing_flagged_is_zero_precision() -> None:
    m = threshold_metrics([0, 1], [0.1, 0.2], 0.9)
    assert (m.precision, m.recall, m.fpr, m.alert_rate) == (0.0, 0.0, 0.0, 0.0)


def test_evaluate_combines_everything(three_days: pd.DataFrame) -> None:
    out = evaluate(three_days, DecisionParams(review_threshold=0.5, decline_threshold=0.9), top_k=2)
    assert out["card_precision_at_2"] == pytest.approx(0.5)
    assert out["roc_auc"] == pytest.approx(roc_auc(three_days["is_fraud"], three_days["score"]))
    assert out["average_precision"] == pytest.approx(
        average_precision(three_days["is_fraud"], three_days["score"])
    )
    decline = threshold_metrics(three_days["is_fraud"], three_days["score"], 0.9)
    assert out["precision_at_decline"] == decline.precision
    assert set(out) == {
        "roc_auc",
        "average_precision",
        "card_precision_at_2",
        *(
            f"{m}_at_{t}"
            for m in ("precision", "recall", "fpr", "alert_rate")
            for t in ("review", "decline")
        ),
    }
    with pytest.raises(ValueError, match="score"):
        evaluate(three_days.drop(columns="score"), DecisionParams())
