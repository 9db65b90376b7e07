"""The compiled parts of the online reads (``fraudlake_online_reads``, native/): the
window sums count what the stream's own :class:`EntityState` counts, member for member,
and refuse what is not a member; the packed commands are hiredis's, byte for byte."""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable

import hiredis
import pytest
from fraudlake_online_reads import known_frauds, pack_commands, window_sums

from fraudlake.online.layout import fraud_member, transaction_member
from fraudlake.stream_features.entity_stage import EntityState

MINUTE = 60_000_000
RANGES = [(10 * MINUTE, 0), (60 * MINUTE, 0), (7 * 1440 * MINUTE, 1440 * MINUTE), (1, 0)]


def _history(rng: random.Random, t: int) -> EntityState:
    """A key's history before ``t``: times on and around the range edges, repeats,
    cents up to a large amount (and a negative one), frauds reported before and after."""
    state = EntityState()
    edges = [t - start for start, _ in RANGES] + [t - end for _, end in RANGES if end]
    for _ in range(rng.randrange(0, 60)):
        when = rng.choice(
            [rng.choice(edges) + rng.choice((-1, 0, 1)), t - rng.randrange(1, 8 * 1440 * MINUTE)]
        )
        if when < t:
            state.add_transaction(when, rng.choice((0, -1, rng.randrange(10**9))))
        if when < t and rng.random() < 0.2:
            state.add_fraud(when, when + rng.randrange(0, 2 * 1440 * MINUTE))
    return state


def _reply(
    times: list[int], values: list[int], member: Callable[[int, int, int], str]
) -> list[bytes]:
    """A ZRANGEBYSCORE reply: members in time order, as the store holds them."""
    pairs = enumerate(zip(times, values, strict=True))
    return [member(when, 1000 + i, value).encode() for i, (when, value) in pairs]


@pytest.mark.parametrize("seed", range(20))
def test_sums_equal_the_stream_state_for_every_range(seed: int) -> None:
    rng = random.Random(seed)
    t = [1_709_251_200_000_000 + rng.randrange(10**12) for _ in range(rng.randrange(1, 40))]
    states = [_history(rng, ti) for ti in t]
    tx_replies = [_reply(s.times, s.cents, transaction_member) for s in states]
    fraud_replies = [_reply(s.fraud_times, s.fraud_reported, fraud_member) for s in states]

    sums = array("q", window_sums(t, tx_replies, RANGES)).tolist()
    frauds = array("q", known_frauds(t, fraud_replies, RANGES)).tolist()
    width = len(RANGES)
    for i, (ti, state) in enumerate(zip(t, states, strict=True)):
        want = [x for start, end in RANGES for x in state.window(ti - start, ti - end)]
        assert sums[2 * width * i : 2 * width * (i + 1)] == want
        want_frauds = [state.frauds_known(ti - start, ti - end, ti) for start, end in RANGES]
        assert frauds[width * i : width * (i + 1)] == want_frauds


def test_empty_batches_and_replies() -> None:
    assert window_sums([], [], RANGES) == b""
    assert array("q", window_sums([5], [[]], [(5, 0)])).tolist() == [0, 0]
    assert known_frauds([5], [[]], []) == b""


def test_numbers_are_read_exactly() -> None:
    # beyond a double's 2**53: parsed as integers, not floats
    members = [b"1:9007199254740993:9007199254740993", b"2:1:-7"]
    assert array("q", window_sums([3], [members], [(3, 0)])).tolist() == [2, 9007199254740986]


@pytest.mark.parametrize(
    "bad",
    [b"17:250", b"1:17:2.5", b"1:17:250:3", b"1::250", b"", b"1:17:", b"x:1:2", b"1:2:3-"],
)
def test_anything_but_a_member_is_refused_by_name(bad: bytes) -> None:
    with pytest.raises(ValueError) as refused:
        window_sums([10, 10], [[b"1:1:1"], [b"2:2:2", bad]], [(10, 0)])
    assert refused.value.args == (bad,)
    with pytest.raises(ValueError) as refused:
        known_frauds([10], [[bad]], [(10, 0)])
    assert refused.value.args == (bad,)


def test_an_overflowing_number_is_refused_not_wrapped() -> None:
    huge = b"1:1:99999999999999999999"
    with pytest.raises(ValueError) as refused:
        window_sums([10], [[huge]], [(10, 0)])
    assert refused.value.args == (huge,)


def test_replies_must_match_the_transactions() -> None:
    with pytest.raises(ValueError, match="2 replies for 1 transactions"):
        window_sums([10], [[], []], [(10, 0)])
    with pytest.raises(TypeError):
        window_sums([10], [[1]], [(10, 0)])  # type: ignore[list-item]


def test_packed_commands_are_hiredis_byte_for_byte() -> None:
    commands: list[tuple[str | bytes | int, ...]] = [
        ("ZRANGEBYSCORE", "fl:card:123:tx", 1_709_251_200_000_000, "(1709251800000000"),
        ("HMGET", "fl:customer:7", "home_x", "home_y"),
        ("SET", b"bin\x00\r\nkey", "naïve €", -(2**63), 2**63 - 1, 0),
        ("PING",),
    ]
    assert pack_commands(commands) == b"".join(hiredis.pack_command(c) for c in commands)  # type: ignore[arg-type]
    assert pack_commands([]) == b""


@pytest.mark.parametrize("bad", [1.5, None, ["list"]])
def test_an_argument_that_is_no_redis_value_is_named(bad: object) -> None:
    with pytest.raises(TypeError, match=f"must be str, bytes or int, got {type(bad).__name__}"):
        pack_commands([("GET", "k"), ("SET", "k", bad)])  # type: ignore[list-item]
