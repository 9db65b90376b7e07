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
