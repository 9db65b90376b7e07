"""Score → approve / review / decline, by the thresholds of ``params.yaml`` ``decision``.

The same rule as the training metrics (``score >= threshold`` is flagged), so the
precision and recall the model card reports at each threshold are what serving does.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from fraudlake.params import DecisionParams

Decision: TypeAlias = Literal["approve", "review", "decline"]


def decide(score: float, thresholds: DecisionParams) -> Decision:
    """``decline`` at or above the decline threshold, ``review`` at or above the review
    threshold, else ``approve``. A NaN score is a bug upstream: ValueError."""
    if score != score:  # NaN compares unequal to itself
        raise ValueError("score is NaN; the model input had a missing feature")
    if score >= thresholds.decline_threshold:
        return "decline"
    if score >= thresholds.review_threshold:
        return "review"
    return "approve"
