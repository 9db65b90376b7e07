"""Customer profiles into the online store: what request-time features need."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from fraudlake.online.layout import DEFAULT_PREFIX, PROFILE_FIELDS, profile_key


def write_profiles(
    client: redis.Redis, customers: Iterable[Mapping[str, Any]], prefix: str = DEFAULT_PREFIX
) -> int:
    """Store each customer's profile fields (floats written with ``repr``: exact);
    returns how many were written."""
    pipe = client.pipeline(transaction=False)
    written = 0
    for row in customers:
        fields = {f: repr(float(row[f])) for f in PROFILE_FIELDS}
        pipe.hset(profile_key(prefix, int(row["customer_id"])), mapping=fields)
        written += 1
        if written % 5000 == 0:
            pipe.execute()
    pipe.execute()
    return written
