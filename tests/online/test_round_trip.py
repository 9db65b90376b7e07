"""One round trip of raw commands against a real Redis: replies in order, untouched; an
error reply raised without leaving the connection out of step; a dead server reported."""

from __future__ import annotations

import pytest
import redis

from fraudlake.online.round_trip import buffered_reader, round_trip
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


@pytest.mark.parametrize("at", [0, 1, 2], ids=["first", "middle", "last"])
def test_an_error_reply_raises_after_every_reply_is_read(online: redis.Redis, at: int) -> None:
    online.set("a-string", "v")
    commands: list[tuple[str | int, ...]] = [("GET", "a-string"), ("SET", "after", 1)]
    commands.insert(at, ("HGET", "a-string", "f"))
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        round_trip(online, commands)
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


def test_nil_replies_between_others_keep_their_places(online: redis.Redis) -> None:
    online.set("s", "v")
    commands = [("GET", "missing") if i % 3 else ("GET", "s") for i in range(30)]
    assert round_trip(online, commands) == [None if i % 3 else b"v" for i in range(30)]


def test_replies_spanning_many_socket_reads_come_back_whole(online: redis.Redis) -> None:
    # ~1.6 MB of replies: far past one 64 KiB read, so most replies are completed by
    # reading the socket again between others taken from the buffer.
    members = {f"{i:06d}:{'x' * 20}": i for i in range(40)}
    online.zadd("z", members)
    online.hset("h", mapping={"a": "1"})
    commands: list[tuple[str | int, ...]] = []
    for i in range(1_500):
        commands.append(("ZRANGEBYSCORE", "z", i % 40, "+inf"))
        commands.append(("HMGET", "h", "a", "b"))
    replies = round_trip(online, commands)
    assert len(replies) == len(commands)
    expected = sorted(members)
    for i in range(1_500):
        assert replies[2 * i] == [m.encode() for m in expected[i % 40 :]]
        assert replies[2 * i + 1] == [b"1", None]


def test_the_default_client_takes_replies_from_the_hiredis_buffer(online: redis.Redis) -> None:
    """redis-py moving its hiredis reader would silently cost every scored transaction
    ~9 µs: fail here instead."""
    connection = online.connection_pool.get_connection()
    try:
        assert buffered_reader(connection) is not None
    finally:
        online.connection_pool.release(connection)
