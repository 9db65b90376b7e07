"""Timestamps on the wire: the text Flink's JSON format reads, exact to the microsecond."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from fraudlake.stream_features.events import EventError, format_ts, from_us, parse_ts, to_us


def test_format_ts_is_flinks_format_and_parses_back_exactly() -> None:
    rng = random.Random(7)
    last = to_us(dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC))
    for us in [0, 1, 999_999, 1_000_000, last, *(rng.randrange(last) for _ in range(2000))]:
        text = format_ts(us)
        assert text == from_us(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert parse_ts(text) == us
    assert format_ts(1_709_251_500_000_000) == "2024-03-01T00:05:00.000000Z"


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(EventError, match="no time zone"):
        to_us(dt.datetime(2024, 3, 1))
