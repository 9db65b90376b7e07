"""Many Redis commands in one round trip, without redis-py's per-command Python.

redis-py's ``Pipeline`` queues each command as Python objects, packs them one by one in
Python and runs every reply through its response-callback lookup: for the scoring
service's thousands of small reads a second that bookkeeping cost more than the reads.
:func:`round_trip` packs each command with hiredis (C), writes them all at once on a
pooled connection and reads the raw replies back in order — what a pipeline does on
the wire, no more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
import redis

#: A command and its arguments, e.g. ``("HMGET", key, "a", "b")``.
Command = tuple[str | bytes | int | float, ...]


def round_trip(client: redis.Redis, commands: Sequence[Command]) -> list[Any]:
    """Send ``commands`` and return their raw replies (bytes, ints, lists of them), in
    order; no response callbacks, so e.g. HMGET gives a list of bytes or None.

    An error reply raises its :class:`redis.ResponseError` once every reply is read (the
    connection stays in step). A timeout or a broken connection raises
    :class:`redis.TimeoutError` / :class:`redis.ConnectionError` and the connection is
    dropped, not returned to the pool half-read. No retries: the caller decides.
    """
    if not commands:
        return []
    # hiredis's stub types the argument as a 1-tuple; it takes any tuple of arguments.
    payload = b"".join([hiredis.pack_command(command) for command in commands])  # type: ignore[arg-type]
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([payload])
        replies: list[Any] = []
        error: redis.ResponseError | None = None
        for _ in commands:
            try:
                replies.append(connection.read_response())
            except redis.ResponseError as exc:
                error = error or exc
                replies.append(exc)
        if error is not None:
            raise error
        return replies
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
