"""What the online store holds, per entity: for ``fraudlake online stats`` and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from fraudlake.online.layout import DEFAULT_PREFIX, StoreKey, scan_store


@dataclass
class EntityCounts:
    keys: int = 0
    transactions: int = 0
    frauds: int = 0


@dataclass
class Inventory:
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    profiles: int = 0
    #: Newest transaction event time in the store (microseconds), None when empty.
    newest_us: int | None = None


def take_inventory(client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> Inventory:
    """Count the store's keys and members with SCAN (no blocking KEYS) and pipelined
    ZCARDs; the newest event time from each transaction set's highest score."""
    found = Inventory()
    sets: list[StoreKey] = []
    for key in scan_store(client, prefix):
        if key.kind == "profile":
            found.profiles += 1
        else:
            sets.append(key)
    pipe = client.pipeline(transaction=False)
    for found_set in sets:
        pipe.zcard(found_set.key)
        if found_set.kind == "tx":
            pipe.zrange(found_set.key, -1, -1, withscores=True)
    replies = iter(pipe.execute())
    for found_set in sets:
        counts = found.entities.setdefault(found_set.entity, EntityCounts())
        size = int(next(replies))
        if found_set.kind == "tx":
            counts.keys += 1
            counts.transactions += size
            top = next(replies)
            if top:
                newest = int(top[0][1])
                found.newest_us = max(found.newest_us or newest, newest)
        else:
            counts.frauds += size
    return found
