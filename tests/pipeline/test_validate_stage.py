"""The validate stage publishes good batches once and quarantines bad ones whole."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.pipeline.conftest import Project


def _rows(project: Project, table: str) -> pa.Table:
    return project.catalog().load_table(table).scan().to_arrow()


def test_rerunning_validate_adds_no_duplicates(staged: Project) -> None:
    staged_rows = sum(
        pq.read_metadata(p).num_rows
        for p in (staged.root / "data" / "staging" / "transactions").glob("*.parquet")
    )
    staged.ok("validate")
    table = staged.catalog().load_table("raw.transactions")
    first = table.current_snapshot()
    assert first is not None
    out = staged.ok("validate").output
    assert "0 appended" in out and "unchanged" in out
    # every batch passed the first run with these bytes and this suite: no GX again
    staged_batches = len(list((staged.root / "data" / "staging").rglob("*.parquet")))
    assert f"({staged_batches} verdicts reused" in out
    table = staged.catalog().load_table("raw.transactions")
    assert table.current_snapshot().snapshot_id == first.snapshot_id  # no new commit
    ids = table.scan(selected_fields=("transaction_id",)).to_arrow().column(0)
    assert len(ids) == staged_rows
    assert pc.count_distinct(ids).as_py() == staged_rows
    # every batch carries its id in the snapshot summary that added it
    batch_ids = {
        s.summary.additional_properties.get("fraudlake.batch-id")
        for s in table.snapshots()
        if s.summary
    }
    assert "transactions/2024-01-01" in batch_ids


def _drop_amount(t: pa.Table) -> pa.Table:
    return t.drop_columns(["amount"])


def _negative_amount(t: pa.Table) -> pa.Table:
    amounts = t.column("amount").to_pylist()
    amounts[3] = -12.5
    return t.set_column(t.schema.get_field_index("amount"), "amount", pa.array(amounts))


def _duplicate_id(t: pa.Table) -> pa.Table:
    ids = t.column("transaction_id").to_pylist()
    ids[5] = ids[4]
    return t.set_column(
        t.schema.get_field_index("transaction_id"), "transaction_id", pa.array(ids, pa.int64())
    )


def _outside_day(t: pa.Table) -> pa.Table:
    ts = t.column("event_ts").to_pylist()
    ts[0] = ts[0] + dt.timedelta(days=1)
    return t.set_column(
        t.schema.get_field_index("event_ts"),
        t.schema.field("event_ts"),
        pa.array(ts, t.schema.field("event_ts").type),
    )


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (_drop_amount, "amount"),
        (_negative_amount, "amount"),
        (_duplicate_id, "transaction_id"),
        (_outside_day, "event_ts"),
    ],
    ids=["missing-column", "negative-amount", "duplicate-id", "timestamp-outside-day"],
)
def test_broken_batch_is_quarantined_with_nothing_appended(
    staged_validated_before: Project, breakage: Callable[[pa.Table], pa.Table], named: str
) -> None:
    staged = staged_validated_before  # the verdicts of a good run: GX runs on the bad day
    day = "2024-01-10"
    path = staged.root / "data" / "staging" / "transactions" / f"{day}.parquet"
    broken = breakage(pq.read_table(path))
    pq.write_table(broken, path)

    result = staged.run("validate")
    assert result.exit_code == 1
    assert f"transactions/{day}" in result.output and named in result.output
    assert "quarantine" in result.output

    quarantined = staged.root / "data" / "quarantine" / "transactions" / f"{day}.parquet"
    assert pq.read_table(quarantined).equals(broken)  # kept as it came, for inspection
    outcome = json.loads(quarantined.with_suffix(".json").read_text())
    assert not outcome["success"]
    assert any(named in (f["column"] or f["description"]) for f in outcome["failed"]), outcome[
        "failed"
    ]
    assert Path(outcome["docs_page"]).exists()  # the Data Docs page says why
    assert not outcome["reused"]  # changed bytes: checked again, not trusted

    # nothing of the bad day reached the lake; the good days did
    ts = _rows(staged, "raw.transactions").column("event_ts")
    days = {d.isoformat() for d in pc.unique(pc.cast(ts, pa.date32())).to_pylist()}
    assert day not in days
    assert "2024-01-09" in days and "2024-01-11" in days


def test_validate_without_staged_batches_says_what_to_run(project: Project) -> None:
    result = project.run("validate")
    assert result.exit_code == 1
    assert "fraudlake ingest" in result.output
