"""``audit.actions``: every audit action is itself recorded, in the lake it audits."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog

from fraudlake import schemas
from fraudlake.lake.snapshot_properties import AUDIT_ACTION, commit_properties, os_user, run_label
from fraudlake.lake.tables import ACTIONS_TABLE, ensure_table


@dataclass(frozen=True)
class JournalEntry:
    action_id: str
    snapshot_id: int | None


def record_action(
    catalog: Catalog,
    action: str,
    target: str,
    details: dict[str, Any],
    *,
    actor: str | None = None,
    at: dt.datetime | None = None,
) -> JournalEntry:
    """Append one row to ``audit.actions`` (one commit) and return its id and snapshot."""
    table = ensure_table(catalog, ACTIONS_TABLE)
    action_id = uuid.uuid4().hex
    row = {
        "action_id": action_id,
        "action": action,
        "target": target,
        "actor": actor or os_user(),
        "run": run_label(),
        "at": at or dt.datetime.now(dt.UTC),
        "details": json.dumps(details, default=str, sort_keys=True),
    }
    table.append(
        pa.Table.from_pylist([row], schema=schemas.AUDIT_ACTIONS),
        snapshot_properties=commit_properties({AUDIT_ACTION: action}),
    )
    snapshot = table.current_snapshot()
    return JournalEntry(action_id, snapshot.snapshot_id if snapshot else None)
