"""Publish batches to an Iceberg table exactly once, and retire withdrawn ones.

Each commit records ``fraudlake.batch-id`` and ``fraudlake.batch-hash`` (or
``fraudlake.retired-batch``) in its snapshot summary, so the table's own history is the
ledger of what it holds. Publishing a batch whose id and content hash are already live
is a no-op; the same id with *different* content replaces that batch's rows (a
restatement) in one atomic overwrite; retiring deletes them. No row is ever duplicated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table

from fraudlake.lake.conform import conform
from fraudlake.lake.snapshot_properties import BATCH_HASH, BATCH_ID, RETIRED, commit_properties


@dataclass(frozen=True)
class PublishResult:
    batch_id: str
    action: Literal["appended", "skipped", "replaced", "retired"]
    rows: int
    snapshot_id: int | None


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, the identity of a batch's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def live_batches(table: Table) -> dict[str, str]:
    """Batch id → content hash of every batch the table holds now.

    Replays the current branch's ancestry, oldest first, so rolled-back history is
    ignored and a retirement cancels the batch's earlier publications.
    """
    chain = []
    snapshot = table.current_snapshot()
    while snapshot is not None:
        chain.append(snapshot)
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    live: dict[str, str] = {}
    for snap in reversed(chain):
        summary = snap.summary
        if summary is None:
            continue
        if summary[BATCH_ID]:
            live[str(summary[BATCH_ID])] = str(summary[BATCH_HASH])
        if summary[RETIRED]:
            live.pop(str(summary[RETIRED]), None)
    return live


def _current_id(table: Table) -> int | None:
    snapshot = table.current_snapshot()
    return snapshot.snapshot_id if snapshot else None


def publish_batch(
    table: Table,
    data: pa.Table,
    *,
    batch_id: str,
    content_hash: str,
    batch_rows: BooleanExpression,
    live: dict[str, str] | None = None,
    extra_summary: dict[str, str] | None = None,
) -> PublishResult:
    """Append ``data`` as batch ``batch_id`` unless that exact content is already live.

    ``batch_rows`` selects the rows that belong to this batch (e.g. its day), used to
    replace them when the same batch arrives with new content. ``live`` is the result of
    :func:`live_batches`, passed (and kept up to date) when publishing many batches.
    """
    ledger = live if live is not None else live_batches(table)
    previous = ledger.get(batch_id)
    if previous == content_hash:
        return PublishResult(batch_id, "skipped", 0, None)
    summary = commit_properties({BATCH_ID: batch_id, BATCH_HASH: content_hash})
    summary |= extra_summary or {}
    data = conform(data, table.schema().as_arrow(), ".".join(table.name()))
    if previous is None:
        table.append(data, snapshot_properties=summary)
        action: Literal["appended", "replaced"] = "appended"
    else:
        table.overwrite(data, overwrite_filter=batch_rows, snapshot_properties=summary)
        action = "replaced"
    ledger[batch_id] = content_hash
    return PublishResult(batch_id, action, data.num_rows, _current_id(table))


def retire_batch(
    table: Table, *, batch_id: str, batch_rows: BooleanExpression, live: dict[str, str]
) -> PublishResult:
    """Delete a live batch's rows (its source was withdrawn); history keeps them."""
    table.delete(
        delete_filter=batch_rows, snapshot_properties=commit_properties({RETIRED: batch_id})
    )
    live.pop(batch_id, None)
    return PublishResult(batch_id, "retired", 0, _current_id(table))
