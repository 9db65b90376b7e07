"""The per-transaction loops of the online store's reads, compiled (see src/lib.rs)."""

def pack_commands(commands: list[tuple[str | bytes | int, ...]]) -> bytes:
    """The RESP payload of ``commands`` (each a tuple of arguments, the command name
    first), in order: ``hiredis.pack_command`` of each, joined. str is written as UTF-8,
    int in decimal; any other argument raises TypeError naming it."""

def window_sums(t: list[int], replies: list[list[bytes]], ranges: list[tuple[int, int]]) -> bytes:
    """Per transaction ``i`` and range ``(start, end)``: the count and the sum of the
    values of ``replies[i]``'s members with event time in ``[t[i] - start, t[i] - end)``,
    as native int64 bytes (row ``i``: ``count_0, sum_0, count_1, sum_1, ...``).
    A member that is not ``<event_us>:<transaction_id>:<integer>`` raises ValueError with
    that member (bytes) as its argument."""

def known_frauds(t: list[int], replies: list[list[bytes]], ranges: list[tuple[int, int]]) -> bytes:
    """Per transaction ``i`` and range: how many frauds of ``replies[i]`` (the value is
    the report time) have event time in ``[t[i] - start, t[i] - end)`` and were reported
    before ``t[i]``, as native int64 bytes, one row per transaction. ValueError as above."""
