"""The lake's history for an auditor: every table, its snapshots, reads as of any of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.table import Table

from fraudlake.lake.snapshot_properties import (
    AUDIT_ACTION,
    BATCH_ID,
    RETIRED,
    RUN_PROPERTY,
    SINK_TOPIC,
)
from fraudlake.lake.snapshots import SnapshotInfo, snapshots


class AsOfError(LookupError):
    """No snapshot matches the requested point in time (the message says which exist)."""


@dataclass(frozen=True)
class TableHistory:
    identifier: str
    snapshots: list[SnapshotInfo]

    @property
    def current(self) -> SnapshotInfo | None:
        return self.snapshots[-1] if self.snapshots else None


def lake_tables(catalog: Catalog) -> list[str]:
    """Every table of every namespace, ``namespace.table``, sorted."""
    out = []
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            out.append(".".join(identifier))
    return sorted(out)


def table_history(catalog: Catalog, identifier: str) -> TableHistory:
    return TableHistory(identifier, snapshots(catalog.load_table(identifier), identifier))


def made_by(snapshot: SnapshotInfo) -> str:
    """Which run (and batch or topic) committed ``snapshot``, from its summary."""
    summary = snapshot.summary
    parts = [summary.get(RUN_PROPERTY, "")]
    if BATCH_ID in summary:
        parts.append(f"batch {summary[BATCH_ID]}")
    if RETIRED in summary:
        parts.append(f"retired batch {summary[RETIRED]}")
    if SINK_TOPIC in summary:
        parts.append(f"from topic {summary[SINK_TOPIC]}")
    if AUDIT_ACTION in summary:
        parts.append(f"audit {summary[AUDIT_ACTION]}")
    return ", ".join(p for p in parts if p) or "unknown"


def snapshot_as_of(table: Table, when: dt.datetime) -> int:
    """The snapshot that was current at ``when`` (aware), or :class:`AsOfError`."""
    if when.tzinfo is None:
        raise AsOfError(f"{when.isoformat()} has no time zone; append Z for UTC")
    ms = int(when.timestamp() * 1000)
    found = table.snapshot_as_of_timestamp(ms)
    if found is None:
        first = min((s.timestamp_ms for s in table.snapshots()), default=None)
        since = (
            "it has no snapshots"
            if first is None
            else f"its first snapshot is of {dt.datetime.fromtimestamp(first / 1000, dt.UTC)}"
        )
        raise AsOfError(
            f"{'.'.join(table.name())} did not exist yet at {when.isoformat()}: {since}"
        )
    return found.snapshot_id


def read_as_of(
    catalog: Catalog,
    identifier: str,
    *,
    snapshot_id: int | None = None,
    when: dt.datetime | None = None,
    row_filter: BooleanExpression | None = None,
    limit: int | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[pa.Table, int | None]:
    """Rows of ``identifier`` as of a snapshot id or a point in time (else current), and
    the snapshot read; only ``columns`` are read when given (a decision row carries its
    whole feature vector). An unknown snapshot id raises :class:`AsOfError` naming the
    table."""
    table = catalog.load_table(identifier)
    if snapshot_id is not None and when is not None:
        raise ValueError("give a snapshot id or a time, not both")
    if when is not None:
        snapshot_id = snapshot_as_of(table, when)
    if snapshot_id is not None and table.snapshot_by_id(snapshot_id) is None:
        raise AsOfError(
            f"{identifier} has no snapshot {snapshot_id} (expired, or of another table); "
            f"list them with `fraudlake audit snapshots {identifier}`"
        )
    if snapshot_id is None:
        current = table.current_snapshot()
        snapshot_id = current.snapshot_id if current else None
    scan = table.scan(
        row_filter=row_filter or AlwaysTrue(),
        snapshot_id=snapshot_id,
        limit=limit,
        selected_fields=tuple(columns) if columns else ("*",),
    )
    return scan.to_arrow(), snapshot_id
