"""A stream sink skips rows the table already holds, reading only the files that can hold them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.expressions import In
from pyiceberg.table import Table

from fraudlake import schemas
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import RAW_TABLES, ensure_table
from fraudlake.settings import Settings
from fraudlake.streaming.kafka_to_lake import key_filter, without_known_rows

DAYS = 5
PER_DAY = 300  # more than the 200 values Iceberg checks an IN against file bounds


def labels(ids: range | list[int], day: int) -> pa.Table:
    at = dt.datetime(2024, 3, 1 + day, 12, tzinfo=dt.UTC)
    return pa.Table.from_pylist(
        [
            {"transaction_id": i, "is_fraud": False, "fraud_scenario": "", "reported_at": at}
            for i in ids
        ],
        schema=schemas.LABELS,
    )


@pytest.fixture
def table(tmp_path: Path) -> Table:
    """``raw.labels`` with one file a day, ids growing with time as the simulator's do."""
    catalog = open_catalog(Settings(home=tmp_path / "lake"))
    table = ensure_table(catalog, RAW_TABLES["labels"])
    for day in range(DAYS):
        table.append(labels(range(day * PER_DAY, (day + 1) * PER_DAY), day))
    return table


def planned(table: Table, ids: set[int], *, bounded: bool) -> int:
    where = key_filter("transaction_id", ids) if bounded else In("transaction_id", ids)
    return len(list(table.scan(row_filter=where).plan_files()))


def test_the_bounded_filter_reads_only_the_files_in_the_ids_range(table: Table) -> None:
    third_day = set(range(2 * PER_DAY, 3 * PER_DAY))
    assert planned(table, third_day, bounded=False) == DAYS  # the IN alone prunes nothing
    assert planned(table, third_day, bounded=True) == 1
    assert planned(table, {10, 2 * PER_DAY + 5}, bounded=True) == 2  # few ids: IN prunes too
    assert planned(table, {10 * DAYS * PER_DAY + i for i in range(PER_DAY)}, bounded=True) == 0


def test_known_and_repeated_rows_are_dropped_new_ones_kept(table: Table) -> None:
    # 250 known ids of day 3, 100 new ones, and 20 of the new ones twice in the batch.
    known = list(range(3 * PER_DAY + 50, 4 * PER_DAY))
    new = list(range(DAYS * PER_DAY, DAYS * PER_DAY + 100))
    batch = labels(known + new + new[:20], day=3)
    kept, dropped = without_known_rows(table, batch, ("transaction_id",))
    assert kept.column("transaction_id").to_pylist() == new
    assert dropped == len(known) + 20
    # Nothing known: the batch as it is, minus its own repeats.
    fresh = labels([10**6, 10**6 + 1, 10**6], day=4)
    kept, dropped = without_known_rows(table, fresh, ("transaction_id",))
    assert (kept.num_rows, dropped) == (2, 1)
