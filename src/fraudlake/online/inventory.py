"""What the online store holds, per entity: for ``fraudlake online stats`` and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from fraudlake.online.layout import DEFAULT_PREFIX


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
    sets: list[tuple[str, str, bytes]] = []
    for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
        parts = raw.decode().split(":")
        if len(parts) == 3 and parts[1] == "customer":
            found.profiles += 1
        elif len(parts) >= 4 and parts[-1] in ("tx", "fraud"):
            sets.append((parts[1], parts[-1], raw))
    pipe = client.pipeline(transaction=False)
    for _, kind, raw in sets:
        pipe.zcard(raw)
        if kind == "tx":
            pipe.zrange(raw, -1, -1, withscores=True)
    replies = iter(pipe.execute())
    for entity, kind, _ in sets:
        counts = found.entities.setdefault(entity, EntityCounts())
        size = int(next(replies))
        if kind == "tx":
            counts.keys += 1
            counts.transactions += size
            top = next(replies)
            if top:
                newest = int(top[0][1])
                found.newest_us = max(found.newest_us or newest, newest)
        else:
            counts.frauds += size
    return found
