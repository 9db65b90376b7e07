"""Erasing a customer from the online store: every member of their transactions and
frauds and their profile go, everyone else's stay."""

from __future__ import annotations

import dataclasses

import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.online.erase import erase_from_online_store
from fraudlake.online.layout import member_transaction_id
from fraudlake.online.profiles import write_profiles
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.stream_features.events import KnownFraud, Transaction
from fraudlake.stream_features.plan import build_stages
from tests.features.data import random_dataset


def _members(client: redis.Redis) -> dict[bytes, set[bytes]]:
    return {
        key: set(client.zrange(key, 0, -1))
        for key in client.scan_iter("fl:*")
        if b":customer:" not in key
    }


def test_only_the_customers_members_and_profile_go(
    online: redis.Redis, feature_set: FeatureSet
) -> None:
    tx, customers, _ = random_dataset(2, n=300)
    txs = [Transaction.from_row(r) for r in tx.to_pylist()]
    stages = build_stages(feature_set)
    target = txs[0].customer_id
    mine = [t for t in txs if t.customer_id == target]
    # A fraud of the customer and one of someone else, at the terminals' fraud sets.
    other = next(t for t in txs if t.customer_id != target)
    frauds = [KnownFraud(mine[0], mine[0].event_us + 5), KnownFraud(other, other.event_us + 5)]
    OnlineStoreWriter(online, stages).write(txs, frauds)
    write_profiles(online, customers.to_pylist())
    before = _members(online)

    done = erase_from_online_store(online, feature_set, target, mine)
    assert done.profiles_removed == 1 and done.members_removed >= len(mine) * len(stages) + 1
    assert not online.exists(f"fl:customer:{target}")
    assert online.exists(f"fl:customer:{other.customer_id}")
    after = _members(online)
    ids = {t.transaction_id for t in mine}
    for key, members in after.items():
        assert not {m for m in members if member_transaction_id(m) in ids}, key
    # Everyone else's members are all still there.
    for key, members in before.items():
        kept = {m for m in members if member_transaction_id(m) not in ids}
        assert kept <= after.get(key, set()), key
    # Idempotent: a second run finds nothing.
    again = erase_from_online_store(online, feature_set, target, mine)
    assert dataclasses.astuple(again) == (0, 0)
