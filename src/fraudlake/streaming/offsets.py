"""Kafka offsets kept in the Iceberg table they were consumed into.

A sink commit records, in its snapshot summary, the next offset to read of *every*
partition of the topic it has consumed so far, one property per partition::

    fraudlake.kafka.<topic>.<partition> = <next offset to read>

The rows and the offsets that produced them are thus one atomic commit, and the table's
history is the consumer's position: no Kafka consumer group, no second store to keep in
step. Rolling the table back rolls the position back with the rows.

Other writers of the table (batch ingest, compaction, deletes) commit snapshots without
these properties; :func:`committed_offsets` walks back past them to the latest snapshot
that has them.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

PREFIX = "fraudlake.kafka."


class OffsetHistoryLostError(RuntimeError):
    """The table's history was cut (snapshots expired) before any snapshot that records the
    topic's offsets: reading from the beginning could duplicate rows, so nothing is read."""


def offset_property(topic: str, partition: int) -> str:
    """The summary property holding ``topic``'s next offset for ``partition``."""
    return f"{PREFIX}{topic}.{partition}"


def offsets_summary(topic: str, offsets: Mapping[int, int]) -> dict[str, str]:
    """Snapshot-summary properties recording ``offsets`` (partition -> next offset)."""
    return {offset_property(topic, p): str(offsets[p]) for p in sorted(offsets)}


def offsets_in_summary(summary: Mapping[str, str], topic: str) -> dict[int, int] | None:
    """The offsets of ``topic`` a summary records, or None when it records none.

    Unambiguous even for topic names with dots: the partition is the last, all-digit
    component after ``fraudlake.kafka.<topic>.``.
    """
    prefix = f"{PREFIX}{topic}."
    found: dict[int, int] = {}
    for key, value in summary.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            found[int(key[len(prefix) :])] = int(value)
    return found or None


def _history_cut_at(table: Table, root: Snapshot) -> bool:
    """Whether older snapshots of ``root``'s lineage were expired.

    pyiceberg's expiry clears the parent link of the oldest snapshot it keeps, so a cut
    shows as a lineage root that is not the table's first commit: its sequence number is
    above 1 and no snapshot with a lower one is left (a lower one still present belongs
    to another branch, which is no cut). Format-v1 tables have no sequence numbers.
    """
    sequence = root.sequence_number or 0
    return sequence > 1 and not any(
        (other.sequence_number or 0) < sequence for other in table.snapshots()
    )


def committed_offsets(table: Table, topic: str) -> dict[int, int]:
    """Partition -> next offset to read of ``topic``, as the table's current state records.

    Starts at the current snapshot of the main branch and follows parent links until a
    snapshot's summary records offsets for ``topic``; that snapshot wins. Returns ``{}``
    when the table is empty or its whole history holds none (nothing consumed yet).
    Raises :class:`OffsetHistoryLostError` when expired snapshots cut the walk short:
    the position is then unknown, and guessing "from the beginning" would duplicate rows.
    """
    snapshot = table.current_snapshot()
    while snapshot is not None:
        summary = snapshot.summary
        found = offsets_in_summary(summary.additional_properties, topic) if summary else None
        if found is not None:
            return found
        parent_id = snapshot.parent_snapshot_id
        parent = table.snapshot_by_id(parent_id) if parent_id is not None else None
        if parent is None:
            if parent_id is not None or _history_cut_at(table, snapshot):
                raise OffsetHistoryLostError(
                    f"{'.'.join(table.name())}: no snapshot left since the expired ones "
                    f"records offsets of Kafka topic {topic!r}, so how far it was consumed "
                    "is unknown; when expiring snapshots, keep the sink's latest one"
                )
            return {}
        snapshot = parent
    return {}
