"""Many Redis commands in one round trip, without redis-py's per-command Python.

redis-py's ``Pipeline`` queues each command as Python objects, packs them one by one in
Python and runs every reply through its response-callback lookup: for the scoring
service's thousands of small reads a second that bookkeeping cost more than the reads.
:func:`round_trip` packs the whole batch of commands in one compiled call
(``fraudlake_online_reads.pack_commands``; hiredis's ``pack_command``, one Python call
per command, was a tenth of a scoring replica's time), writes it at once on a pooled
connection and reads the raw replies back in order — what a pipeline does on the wire,
no more.

Replies already buffered are taken straight from the connection's hiredis reader:
``Connection.read_response`` wraps each one in ~1.5 µs of Python (error mapping, a
host string, health-check bookkeeping), 9 µs of a scored transaction's six replies.
The socket is still read by redis-py, so its timeouts and errors stay its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from fraudlake_online_reads import pack_commands
from redis.connection import AbstractConnection

#: A command and its arguments (str, bytes or int), e.g. ``("HMGET", key, "a", "b")``.
Command = tuple[str | bytes | int, ...]

_UNREAD = object()


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
    payload = pack_commands(list(commands))
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([payload])
        replies, error = read_replies(connection, len(commands))
        if error is not None:
            raise error
        return replies
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def buffered_reader(connection: AbstractConnection) -> hiredis.Reader | None:
    """The hiredis reader redis-py parses ``connection``'s RESP2 replies with, or None
    when it parses otherwise (no hiredis, RESP3 with its push messages): then every
    reply goes through ``read_response``."""
    reader = getattr(getattr(connection, "_parser", None), "_reader", None)
    if str(getattr(connection, "protocol", 2)) != "2" or not isinstance(reader, hiredis.Reader):
        return None
    return reader


def read_replies(
    connection: AbstractConnection, count: int
) -> tuple[list[Any], redis.ResponseError | None]:
    """The next ``count`` replies on ``connection``, and the first error reply among them;
    an error reply is in its place as a :class:`redis.ResponseError` (the rest are still
    read)."""
    reader = buffered_reader(connection)
    replies: list[Any] = []
    error: redis.ResponseError | None = None
    for _ in range(count):
        # redis-py reads the first reply (a reply it cached while checking the
        # connection comes first) and any that is not complete in the buffer yet
        # (hiredis answers with redis-py's marker then, a bare object).
        reply = reader.gets() if reader is not None and replies else _UNREAD
        if type(reply) is object:
            try:
                reply = connection.read_response()
            except redis.ResponseError as exc:
                reply = exc
        if isinstance(reply, Exception):
            if not isinstance(reply, redis.ResponseError):
                raise reply  # a protocol error hiredis parsed
            error = error or reply
        replies.append(reply)
    return replies, error
