"""The model card's numbers: approval and false-positive rates overall and per customer
segment and region, by serving's decision rule, and the page that shows them."""

from __future__ import annotations

import pandas as pd
import pytest

from fraudlake.params import DecisionParams
from fraudlake.training.model_card import ModelCard, group_rates, render_html

THRESHOLDS = DecisionParams(review_threshold=0.5, decline_threshold=0.9)


def _frame() -> pd.DataFrame:
    # retail/north: 4 genuine (one flagged at exactly the review threshold), 1 fraud caught
    # business/south: 3 genuine (two flagged, one declined), 1 fraud missed
    rows = [
        ("retail", "north", 0, 0.10),
        ("retail", "north", 0, 0.20),
        ("retail", "north", 0, 0.30),
        ("retail", "north", 0, 0.50),
        ("retail", "north", 1, 0.95),
        ("business", "south", 0, 0.60),
        ("business", "south", 0, 0.95),
        ("business", "south", 0, 0.05),
        ("business", "south", 1, 0.40),
    ]
    return pd.DataFrame(rows, columns=["segment", "region", "is_fraud", "score"])


def test_rates_follow_the_serving_rule_per_group() -> None:
    rates = {(r.group, r.value): r for r in group_rates(_frame(), THRESHOLDS)}
    assert next(iter(rates)) == ("overall", "all")
    retail = rates[("segment", "retail")]
    assert (retail.transactions, retail.frauds) == (5, 1)
    assert retail.approval_rate == pytest.approx(3 / 5)  # 0.5 is flagged: score >= threshold
    assert retail.false_positive_rate == pytest.approx(1 / 4)
    assert retail.recall == 1.0 and retail.decline_rate == pytest.approx(1 / 5)
    business = rates[("region", "south")]
    assert business.false_positive_rate == pytest.approx(2 / 3)
    assert business.recall == 0.0 and business.decline_rate == pytest.approx(1 / 4)
    overall = rates[("overall", "all")]
    assert overall.false_positive_rate == pytest.approx(3 / 7)
    assert overall.approval_rate == pytest.approx(5 / 9)


def test_the_page_shows_windows_thresholds_rates_gap_and_chart() -> None:
    card = ModelCard(
        model_name="fraud-detector",
        version=3,
        family="lightgbm",
        run_id="abc123",
        train_window="2024-01-01..2024-01-29",
        test_window="2024-02-05..2024-02-12",
        features=["amount", "card_count_1h"],
        metrics={"average_precision": 0.61},
        thresholds=THRESHOLDS,
        rates=group_rates(_frame(), THRESHOLDS),
        lineage={"git_commit": "0123abc", "snapshot.raw.transactions": "42"},
    )
    assert card.largest_gap("segment") == pytest.approx(2 / 3 - 1 / 4)
    page = render_html(card)
    for text in (
        "fraud-detector version 3",
        "2024-01-01..2024-01-29",
        "score &ge; 0.5: review",
        "<td>segment</td><td>business</td><td>4</td><td>1</td>",
        "0.6667",  # business false-positive rate
        f"segment {2 / 3 - 1 / 4:.4f}",
        "data:image/png;base64,",
        "0123abc",
        "average_precision",
    ):
        assert text in page, text


def test_missing_group_columns_are_named() -> None:
    with pytest.raises(KeyError, match="region"):
        group_rates(_frame().drop(columns=["region"]), THRESHOLDS)
