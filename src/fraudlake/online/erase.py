"""Remove a customer's traces from the online store (part of ``fraudlake audit erase``).

Window keys hold raw members (``<event_us>:<transaction_id>:<cents>``, and the report
time in place of the cents for frauds), so the customer's transactions are removed member
by member from every entity's sets — the card's and the customer-terminal pair's sets
then empty (Redis drops them), the terminals' keep everyone else's — and the profile
hash is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.online.layout import (
    DEFAULT_PREFIX,
    frauds_key,
    member_transaction_id,
    profile_key,
    transaction_member,
    transactions_key,
)
from fraudlake.stream_features.events import Transaction
from fraudlake.stream_features.plan import build_stages


@dataclass(frozen=True)
class OnlineErasure:
    members_removed: int
    profiles_removed: int


def erase_from_online_store(
    client: redis.Redis,
    features: FeatureSet,
    customer_id: int,
    transactions: Iterable[Transaction],
    prefix: str = DEFAULT_PREFIX,
) -> OnlineErasure:
    """Remove ``transactions`` (the customer's) from the transaction and fraud sets of
    every entity ``features`` keeps windows for, and the customer's profile. Idempotent."""
    stages = build_stages(features)
    txs = list(transactions)
    pipe = client.pipeline(transaction=False)
    for tx in txs:
        for stage in stages:
            key = tx.key(stage.keys)
            pipe.zrem(
                transactions_key(prefix, stage.entity, key),
                transaction_member(tx.event_us, tx.transaction_id, tx.cents),
            )
    removed = sum(pipe.execute())
    # Fraud members carry the report time, unknown here: look them up at the event time.
    lookups = [
        (frauds_key(prefix, stage.entity, tx.key(stage.keys)), tx)
        for tx in txs
        for stage in stages
        if stage.takes_labels
    ]
    pipe = client.pipeline(transaction=False)
    for key, tx in lookups:
        pipe.zrangebyscore(key, tx.event_us, tx.event_us)
    found = pipe.execute()
    pipe = client.pipeline(transaction=False)
    for (key, tx), members in zip(lookups, found, strict=True):
        mine = [m for m in members if member_transaction_id(m) == tx.transaction_id]
        if mine:
            pipe.zrem(key, *mine)
    removed += sum(pipe.execute())
    pipe = client.pipeline(transaction=False)
    pipe.delete(profile_key(prefix, customer_id))
    (profiles,) = pipe.execute()
    return OnlineErasure(removed, int(profiles))
