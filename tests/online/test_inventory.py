"""``take_inventory`` counts what the writer and the profile loader put in Redis."""

from __future__ import annotations

import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.online.inventory import take_inventory
from fraudlake.online.profiles import write_profiles
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.stream_features.events import KnownFraud, Transaction
from fraudlake.stream_features.plan import build_stages
from tests.features.data import random_dataset


def test_inventory_counts_entities_members_profiles_and_newest(
    online: redis.Redis, feature_set: FeatureSet
) -> None:
    tx, customers, _ = random_dataset(2, n=300)
    txs = [Transaction.from_row(r) for r in tx.to_pylist()]
    stages = build_stages(feature_set)
    writer = OnlineStoreWriter(online, stages)
    writer.write(txs, [KnownFraud(txs[-1], txs[-1].event_us + 1)])
    write_profiles(online, customers.to_pylist())
    online.set("unrelated:key", 1)

    found = take_inventory(online)

    assert found.profiles == customers.num_rows
    assert found.newest_us == max(t.event_us for t in txs)
    for stage in stages:
        counts = found.entities[stage.entity]
        keys = {t.key(stage.keys) for t in txs}
        assert counts.keys == len(keys)
        # The writer trims what no window reaches any more: at most all, at least the
        # newest key's own transaction.
        assert 0 < counts.transactions <= len(txs)
        assert counts.frauds == (1 if stage.takes_labels else 0)
