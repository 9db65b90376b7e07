"""Where the online store keeps what, in Redis — one place for every reader and writer.

Per entity key (``<entity>`` as in ``feature_defs/``, ``<key>`` its key values joined
by ``|``), with ``<p>`` the configured prefix (default ``fl``):

* ``<p>:<entity>:<key>:tx`` — sorted set of the entity's transactions: member
  ``<transaction_id>:<cents>``, score the event time in microseconds (exact in a double
  until the year 2255). Window features are counts and sums over a score range.
* ``<p>:<entity>:<key>:fraud`` — sorted set of its known frauds: member
  ``<transaction_id>:<reported_us>``, score the fraud's event time.
* ``<p>:customer:<customer_id>`` — hash of the profile fields request features need.

Raw events, not precomputed values: a request at any instant ``t`` gets exactly
``[t - W, t)``, whatever order the events were written in, and writing one twice (a
replay after a failure) changes nothing.
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


def transaction_member(transaction_id: int, cents: int) -> str:
    return f"{transaction_id}:{cents}"


def fraud_member(transaction_id: int, reported_us: int) -> str:
    return f"{transaction_id}:{reported_us}"


def member_value(member: bytes | str) -> int:
    """The number after the colon of a member (cents, or the report time)."""
    if isinstance(member, bytes):
        return int(member.rpartition(b":")[2])  # int() reads ASCII digits from bytes
    return int(member.rpartition(":")[2])
