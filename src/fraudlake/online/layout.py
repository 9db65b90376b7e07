"""Where the online store keeps what, in Redis — one place for every reader and writer.

Per entity key (``<entity>`` as in ``feature_defs/``, ``<key>`` its key values joined
by ``|``), with ``<p>`` the configured prefix (default ``fl``):

* ``<p>:<entity>:<key>:tx`` — sorted set of the entity's transactions: member
  ``<event_us>:<transaction_id>:<cents>``, score the event time in microseconds (exact
  in a double until the year 2255). Window features are counts and sums over a score
  range.
* ``<p>:<entity>:<key>:fraud`` — sorted set of its known frauds: member
  ``<event_us>:<transaction_id>:<reported_us>``, score the fraud's event time.
* ``<p>:customer:<customer_id>`` — hash of the profile fields request features need.

Raw events, not precomputed values: a request at any instant ``t`` gets exactly
``[t - W, t)``, whatever order the events were written in, and writing one twice (a
replay after a failure) changes nothing.

The event time is in the member as well as in the score so that reads need no
``WITHSCORES``: Redis formats every score it returns with ``%.17g``, which made a window
read 4-6 times as expensive for the server (a 43-member range: 41-44 µs against 7-11 µs)
and doubled the reply the scorer parses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import redis

DEFAULT_PREFIX = "fl"

#: Profile fields of :data:`fraudlake.schemas.CUSTOMERS` the request features read.
PROFILE_FIELDS = ("home_x", "home_y", "mean_amount", "std_amount")


def transactions_key(prefix: str, entity: str, key: str) -> str:
    return f"{prefix}:{entity}:{key}:tx"


def frauds_key(prefix: str, entity: str, key: str) -> str:
    return f"{prefix}:{entity}:{key}:fraud"


def profile_key(prefix: str, customer_id: int) -> str:
    return f"{prefix}:customer:{customer_id}"


def transaction_member(event_us: int, transaction_id: int, cents: int) -> str:
    return f"{event_us}:{transaction_id}:{cents}"


def fraud_member(event_us: int, transaction_id: int, reported_us: int) -> str:
    return f"{event_us}:{transaction_id}:{reported_us}"


def member_transaction_id(member: bytes) -> int:
    """The transaction id in a member of either set."""
    return int(member.split(b":")[1])


def upgraded_member(old: bytes, event_us: int) -> bytes:
    """A member of the layout before the event time moved into it
    (``<transaction_id>:<value>``), in the current layout."""
    return b"%d:%s" % (event_us, old)


@dataclass(frozen=True)
class StoreKey:
    """A key of the online store, read back: what it holds and for which entity."""

    kind: Literal["tx", "fraud", "profile"]
    #: The entity (``customer`` for a profile).
    entity: str
    key: bytes


def read_key(prefix: str, key: bytes) -> StoreKey | None:
    """What ``key`` holds by the layout above, or None if it is none of the store's."""
    head = f"{prefix}:".encode()
    if not key.startswith(head):
        return None
    parts = key[len(head) :].split(b":")
    if len(parts) == 2 and parts[0] == b"customer":
        return StoreKey("profile", "customer", key)
    if len(parts) >= 3 and parts[-1] in (b"tx", b"fraud"):
        return StoreKey("tx" if parts[-1] == b"tx" else "fraud", parts[0].decode(), key)
    return None


def scan_store(client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> Iterator[StoreKey]:
    """Every key of the store under ``prefix``, with SCAN (never a blocking KEYS)."""
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        found = read_key(prefix, key)
        if found is not None:
            yield found
