"""One round trip of raw commands against a real Redis: replies in order, untouched; an
error reply raised without leaving the connection out of step; a dead server reported."""

from __future__ import annotations

import pytest
import redis

from fraudlake.online.round_trip import round_trip
from tests.services import free_ports


def test_replies_come_back_in_order_and_raw(online: redis.Redis) -> None:
    online.zadd("z", {"7:250": 1709251500000000, "8:100": 1709251500000001})
    online.hset("h", mapping={"a": "1.5", "b": "x"})
    replies = round_trip(
        online,
        [
            ("SET", "s", 42),
            ("GET", "s"),
            ("ZRANGEBYSCORE", "z", 0, "(1709251500000001", "WITHSCORES"),
            ("HMGET", "h", "a", "missing", "b"),
            ("ZRANGEBYSCORE", "nothing-here", 0, "+inf"),
        ],
    )
    assert replies == [
        b"OK",
        b"42",
        [b"7:250", b"1709251500000000"],  # scores as Redis wrote them: no callback
        [b"1.5", None, b"x"],
        [],
    ]


def test_an_error_reply_raises_after_every_reply_is_read(online: redis.Redis) -> None:
    online.set("a-string", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        round_trip(online, [("GET", "a-string"), ("HGET", "a-string", "f"), ("SET", "after", 1)])
    # The commands after the error ran, and the pooled connection is still in step.
    assert online.get("after") == b"1"
    for _ in range(3):
        assert round_trip(online, [("GET", "a-string"), ("EXISTS", "after")]) == [b"v", 1]


def test_no_commands_touch_no_server() -> None:
    (port,) = free_ports(1)
    assert round_trip(redis.Redis(port=port), []) == []


def test_an_unreachable_server_is_a_connection_error() -> None:
    (port,) = free_ports(1)
    with pytest.raises(redis.ConnectionError):
        round_trip(redis.Redis(port=port, socket_connect_timeout=1), [("GET", "k")])
