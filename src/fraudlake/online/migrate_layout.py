"""Rewrite an online store written before the event time moved into the members.

Earlier versions wrote window members as ``<transaction_id>:<value>``; the reader now
needs ``<event_us>:<transaction_id>:<value>`` (:mod:`fraudlake.online.layout`). The
event time is each member's score, so a store converts in place, without a replay: per
sorted set, the old members are removed and their new forms added in one ``MULTI`` (a
reader sees a set all old or all new, never both halves of a member). Members already in
the new form are left alone, so a run is idempotent and a second run after a writer of
the old version added more finds only those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from fraudlake.online.layout import DEFAULT_PREFIX, scan_store, upgraded_member


@dataclass
class LayoutMigration:
    sets_scanned: int = 0
    sets_rewritten: int = 0
    members_rewritten: int = 0


def window_sets(client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> list[bytes]:
    """The keys of every transaction and fraud set (SCAN, no blocking KEYS)."""
    return [found.key for found in scan_store(client, prefix) if found.kind != "profile"]


def migrate_members(
    client: redis.Redis,
    keys: Sequence[bytes],
    dry_run: bool = False,
    on_set: Callable[[], None] = lambda: None,
) -> LayoutMigration:
    """Rewrite every old-form member of the window sets ``keys`` (``dry_run``: count
    them only), keeping each set's time-to-live; ``on_set`` is called after each set
    (progress). ValueError naming the key for a member in neither form (that set and
    the ones after it are left as they are)."""
    done = LayoutMigration()
    for key in keys:
        old: dict[bytes, float] = {}
        with client.pipeline(transaction=False) as read:
            read.zrange(key, 0, -1, withscores=True)
            read.pttl(key)
            members, ttl_ms = read.execute()
        for member, score in members:
            fields = member.split(b":")
            integers = all(f.lstrip(b"-").isdigit() for f in fields)
            if len(fields) == 3 and integers:
                continue
            if len(fields) != 2 or not integers:
                raise ValueError(
                    f"{key.decode()}: member {member!r} is neither <transaction_id>:<integer> "
                    "(the old layout) nor <event_us>:<transaction_id>:<integer>; this set "
                    "was not written by fraudlake — remove it or use another --prefix"
                )
            old[member] = score
        done.sets_scanned += 1
        if old and not dry_run:
            with client.pipeline(transaction=True) as pipe:
                pipe.zrem(key, *old)
                pipe.zadd(key, {upgraded_member(m, int(s)): s for m, s in old.items()})
                if ttl_ms > 0:  # a set emptied by ZREM is deleted, its expiry with it
                    pipe.pexpire(key, ttl_ms)
                pipe.execute()
        if old:
            done.sets_rewritten += 1
            done.members_rewritten += len(old)
        on_set()
    return done
