"""Offsets in snapshot summaries: a round trip, and the walk back past other writers."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from fraudlake import schemas
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import RAW_TABLES, ensure_table
from fraudlake.settings import Settings
from fraudlake.streaming.offsets import (
    OffsetHistoryLostError,
    committed_offsets,
    offset_property,
    offsets_in_summary,
    offsets_summary,
)

REPORTED = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def rows(*ids: int) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"transaction_id": i, "is_fraud": True, "fraud_scenario": "s", "reported_at": REPORTED}
            for i in ids
        ],
        schema=schemas.LABELS,
    )


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    return open_catalog(settings)


@pytest.fixture
def table(catalog: Catalog) -> Table:
    return ensure_table(catalog, RAW_TABLES["labels"])


def test_summary_properties_round_trip() -> None:
    summary = offsets_summary("labels", {1: 7, 0: 12})
    assert summary == {"fraudlake.kafka.labels.0": "12", "fraudlake.kafka.labels.1": "7"}
    assert offset_property("labels", 3) == "fraudlake.kafka.labels.3"
    assert offsets_in_summary(summary, "labels") == {0: 12, 1: 7}
    assert offsets_in_summary(summary, "decisions") is None
    # dotted topic names cannot be confused with one another
    both = {**offsets_summary("a", {0: 1}), **offsets_summary("a.1", {0: 5})}
    assert offsets_in_summary(both, "a") == {0: 1}
    assert offsets_in_summary(both, "a.1") == {0: 5}


def test_offsets_round_trip_through_a_commit(table: Table) -> None:
    assert committed_offsets(table, "labels") == {}  # empty table: nothing consumed
    table.append(rows(1, 2), snapshot_properties=offsets_summary("labels", {0: 1, 1: 1}))
    table.append(rows(3), snapshot_properties=offsets_summary("labels", {0: 2, 1: 1}))
    assert committed_offsets(table, "labels") == {0: 2, 1: 1}
    assert committed_offsets(table, "other") == {}


def test_the_walk_back_skips_snapshots_of_other_writers(catalog: Catalog, table: Table) -> None:
    table.append(rows(1), snapshot_properties=offsets_summary("labels", {0: 4}))
    # batch ingest, a delete and a foreign topic's sink commit on top
    table.append(rows(2), snapshot_properties={"fraudlake.batch-id": "2024-03-01"})
    table.delete("transaction_id = 2")
    table.append(rows(3), snapshot_properties=offsets_summary("decisions", {0: 9}))
    fresh = catalog.load_table("raw.labels")
    assert len(fresh.snapshots()) == 4
    assert committed_offsets(fresh, "labels") == {0: 4}
    assert committed_offsets(fresh, "decisions") == {0: 9}
    # the latest snapshot that records the topic wins
    table.append(rows(4), snapshot_properties=offsets_summary("labels", {0: 6}))
    table.append(rows(5))
    assert committed_offsets(catalog.load_table("raw.labels"), "labels") == {0: 6}


def test_only_foreign_snapshots_mean_nothing_was_consumed(table: Table) -> None:
    table.append(rows(1), snapshot_properties={"fraudlake.batch-id": "x"})
    table.append(rows(2))
    assert committed_offsets(table, "labels") == {}


def test_a_rollback_moves_the_offsets_back_with_the_rows(catalog: Catalog, table: Table) -> None:
    table.append(rows(1), snapshot_properties=offsets_summary("labels", {0: 1}))
    first = table.current_snapshot()
    assert first is not None
    table.append(rows(2), snapshot_properties=offsets_summary("labels", {0: 2}))
    table.manage_snapshots().rollback_to_snapshot(first.snapshot_id).commit()
    assert committed_offsets(catalog.load_table("raw.labels"), "labels") == {0: 1}


def test_expired_history_is_an_error_not_a_silent_restart(catalog: Catalog, table: Table) -> None:
    table.append(rows(1), snapshot_properties=offsets_summary("labels", {0: 1}))
    sink_snapshot = table.current_snapshot()
    assert sink_snapshot is not None
    table.append(rows(2), snapshot_properties={"fraudlake.batch-id": "x"})
    table.maintenance.expire_snapshots().by_id(sink_snapshot.snapshot_id).commit()
    fresh = catalog.load_table("raw.labels")
    assert fresh.snapshot_by_id(sink_snapshot.snapshot_id) is None
    with pytest.raises(OffsetHistoryLostError, match="offsets of Kafka topic 'labels'"):
        committed_offsets(fresh, "labels")
