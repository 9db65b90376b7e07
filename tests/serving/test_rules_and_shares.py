"""The pure parts of scoring: fallback rules, traffic shares, options, record times."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError

from fraudlake.serving.fallback import fallback_decision
from fraudlake.serving.options import FallbackRules, ServingOptions
from fraudlake.serving.scorer import (
    CANARY_SALT,
    SHADOW_SALT,
    format_event_times,
    traffic_share,
)
from fraudlake.stream_features.events import format_ts, to_us

RULES = FallbackRules(review_amount=220, decline_amount=1000, night_review_amount=100)
NOON = to_us(dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC))
NIGHT = to_us(dt.datetime(2024, 3, 1, 3, 30, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("amount", "at", "decision", "rule"),
    [
        (50.0, NOON, "approve", "no rule fired"),
        (219.99, NOON, "approve", "no rule fired"),
        (220.0, NOON, "review", "amount >= 220"),
        (999.0, NIGHT, "review", "amount >= 220"),
        (1000.0, NOON, "decline", "amount >= 1000"),
        (99.0, NIGHT, "approve", "no rule fired"),
        (100.0, NIGHT, "review", "night and amount >= 100"),
        (150.0, NOON, "approve", "no rule fired"),
    ],
)
def test_fallback_rules_decide_on_amount_and_night(
    amount: float, at: int, decision: str, rule: str
) -> None:
    assert fallback_decision(amount, at, RULES) == (decision, rule)


def test_night_ends_at_six_utc() -> None:
    six = to_us(dt.datetime(2024, 3, 1, 6, 0, tzinfo=dt.UTC))
    assert fallback_decision(150.0, six - 1, RULES)[0] == "review"
    assert fallback_decision(150.0, six, RULES)[0] == "approve"


def test_traffic_shares_are_fixed_by_the_id_uniform_and_independent_per_salt() -> None:
    ids = range(20_000)
    canary = [traffic_share(i, CANARY_SALT) for i in ids]
    assert canary == [traffic_share(i, CANARY_SALT) for i in ids]  # same id, same path
    assert all(0 <= u < 1 for u in canary)
    picked = sum(u < 0.1 for u in canary)
    assert 1_800 <= picked <= 2_200  # 10 % of the traffic
    shadow = [traffic_share(i, SHADOW_SALT) for i in ids]
    both = sum(a < 0.1 and b < 0.1 for a, b in zip(canary, shadow, strict=True))
    assert 120 <= both <= 280  # about 1 %: the two shares pick independently


def test_options_refuse_what_cannot_work() -> None:
    with pytest.raises(ValidationError, match=r"decline_amount must be >= fallback\.review_amount"):
        FallbackRules(review_amount=500, decline_amount=100)
    with pytest.raises(ValidationError, match="shadow_share"):
        ServingOptions(shadow_share=1.5)
    with pytest.raises(ValidationError, match="typo_option"):
        ServingOptions.model_validate({"typo_option": 1})


def test_event_times_of_a_batch_are_formatted_as_one_at_a_time() -> None:
    rng = np.random.default_rng(7)
    latest = to_us(dt.datetime(2200, 1, 1, tzinfo=dt.UTC)) - 1
    times = [0, 1, 999_999, 1_000_000, 951_782_400_000_000, latest]  # 2000-02-29 too
    times += rng.integers(0, latest, 500).tolist()
    assert format_event_times(times) == [format_ts(t) for t in times]
    assert format_event_times([]) == []
