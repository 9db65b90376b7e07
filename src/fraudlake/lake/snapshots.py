"""Read the lake's history: snapshots, their summaries, reads as of a snapshot."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table


@dataclass(frozen=True)
class SnapshotInfo:
    table: str
    snapshot_id: int
    parent_id: int | None
    committed_at: dt.datetime
    operation: str
    summary: dict[str, str]

    @property
    def rows_added(self) -> int:
        return int(self.summary.get("added-records", 0))


def snapshots(table: Table, identifier: str) -> list[SnapshotInfo]:
    """Every snapshot of ``table`` in commit order."""
    out = []
    for snap in table.snapshots():
        summary = snap.summary
        props = {k: str(v) for k, v in (summary.additional_properties if summary else {}).items()}
        out.append(
            SnapshotInfo(
                table=identifier,
                snapshot_id=snap.snapshot_id,
                parent_id=snap.parent_snapshot_id,
                committed_at=dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.UTC),
                operation=str(summary.operation.value) if summary else "unknown",
                summary=props,
            )
        )
    return out


def current_snapshot_ids(catalog: Catalog, identifiers: list[str]) -> dict[str, int | None]:
    """Current snapshot id of each table (None for a missing or empty table)."""
    ids: dict[str, int | None] = {}
    for identifier in identifiers:
        try:
            snap = catalog.load_table(identifier).current_snapshot()
        except NoSuchTableError:
            snap = None
        ids[identifier] = snap.snapshot_id if snap else None
    return ids


def read_table(catalog: Catalog, identifier: str, snapshot_id: int | None = None) -> pa.Table:
    """The table's rows, as of ``snapshot_id`` when given (time travel), else current."""
    table = catalog.load_table(identifier)
    return table.scan(snapshot_id=snapshot_id).to_arrow()
