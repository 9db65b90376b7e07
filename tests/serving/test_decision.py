"""Thresholds: the same rule in serving as in the training metrics."""

from __future__ import annotations

import numpy as np
import pytest

from fraudlake.params import DecisionParams
from fraudlake.serving.decision import decide
from fraudlake.training.metrics import threshold_metrics

THRESHOLDS = DecisionParams(review_threshold=0.5, decline_threshold=0.9)


@pytest.mark.parametrize(
    ("score", "want"),
    [(0.0, "approve"), (0.4999, "approve"), (0.5, "review"), (0.8999, "review"), (0.9, "decline")],
)
def test_thresholds_are_inclusive(score: float, want: str) -> None:
    assert decide(score, THRESHOLDS) == want


def test_alert_rates_match_the_training_metrics() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(2000)
    labels = rng.integers(0, 2, 2000)
    decisions = [decide(float(s), THRESHOLDS) for s in scores]
    review = threshold_metrics(labels, scores, THRESHOLDS.review_threshold)
    decline = threshold_metrics(labels, scores, THRESHOLDS.decline_threshold)
    assert np.mean([d != "approve" for d in decisions]) == pytest.approx(review.alert_rate)
    assert np.mean([d == "decline" for d in decisions]) == pytest.approx(decline.alert_rate)


def test_nan_score_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        decide(float("nan"), THRESHOLDS)
