"""The degraded path: a decision from the payload alone, by explicit rules.

Used when the online store cannot be read (or has no profile of the customer): the
champion cannot be given its features, and guessing them (zeros, "no history") would
make it confidently wrong. The rules are few, visible in the configuration, and each
answer names the rule that fired.
"""

from __future__ import annotations

import numpy as np

from fraudlake.features.request_time import NIGHT_END_HOUR, hour_of
from fraudlake.serving.decision import Decision
from fraudlake.serving.options import FallbackRules


def fallback_decision(amount: float, event_us: int, rules: FallbackRules) -> tuple[Decision, str]:
    """(decision, the rule that decided) for a transaction of ``amount`` at ``event_us``."""
    if amount >= rules.decline_amount:
        return "decline", f"amount >= {rules.decline_amount:g}"
    if amount >= rules.review_amount:
        return "review", f"amount >= {rules.review_amount:g}"
    night = int(hour_of(np.array([event_us], dtype=np.int64))[0]) < NIGHT_END_HOUR
    if night and amount >= rules.night_review_amount:
        return "review", f"night and amount >= {rules.night_review_amount:g}"
    return "approve", "no rule fired"
