"""Appends under concurrent writers: every conflict is retried with a build from the fresh
table state, rows land exactly once, and the retry is shown to be needed (conflicts occur).

The writers are real: threads, each with its own SQL catalog connection, committing to
one SQLite catalog and warehouse. A barrier before the first commit makes both writers
build on the same snapshot, so a conflict is certain rather than likely.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

from fraudlake import schemas
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import RAW_TABLES, ensure_table
from fraudlake.settings import Settings
from fraudlake.streaming.commit_retry import (
    AppendOutcome,
    CommitRetriesExhaustedError,
    append_with_retry,
)
from fraudlake.streaming.offsets import committed_offsets, offsets_summary

IDENTIFIER = "raw.labels"
REPORTED = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
BATCH = 3


def rows(ids: list[int]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"transaction_id": i, "is_fraud": True, "fraud_scenario": "s", "reported_at": REPORTED}
            for i in ids
        ],
        schema=schemas.LABELS,
    )


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    ensure_table(open_catalog(settings), RAW_TABLES["labels"])
    return open_catalog(settings)


def ids_in(catalog: Catalog) -> list[int]:
    table = catalog.load_table(IDENTIFIER).scan().to_arrow()
    return sorted(table.column("transaction_id").to_pylist())


def batch_builder(writer: int) -> Callable[[Table], tuple[pa.Table, dict[str, str]]]:
    """Writer ``writer``'s next batch, as a stream sink builds it: the position comes from
    the fresh table (``committed_offsets``), the rows follow from the position. A stale
    build would re-append a batch and leave a gap in the ids."""
    stream = f"writer-{writer}"

    def build(table: Table) -> tuple[pa.Table, dict[str, str]]:
        done = committed_offsets(table, stream).get(0, 0)
        first = writer * 1000 + done * BATCH
        return rows(list(range(first, first + BATCH))), offsets_summary(stream, {0: done + 1})

    return build


def first_commit_together(barrier: threading.Barrier) -> Callable[[int], None]:
    """A before-commit hook that waits for the other writer at this writer's first commit,
    so both have built on the same snapshot; later commits run free."""
    waited = threading.Event()

    def hook(attempt: int) -> None:
        if not waited.is_set():
            waited.set()
            barrier.wait(timeout=60)

    return hook


def test_a_conflict_rebuilds_from_the_fresh_state(settings: Settings, catalog: Catalog) -> None:
    other = open_catalog(settings)  # a second writer with its own connection
    seen: list[int | None] = []

    def build(table: Table) -> tuple[pa.Table, dict[str, str]]:
        snapshot = table.current_snapshot()
        seen.append(snapshot.snapshot_id if snapshot else None)
        return rows([len(table.scan().to_arrow()) + 100]), {"built-on-rows": str(len(seen))}

    def rival_commits_first(attempt: int) -> None:
        if attempt == 1:
            other.load_table(IDENTIFIER).append(rows([1]))

    outcome = append_with_retry(catalog, IDENTIFIER, build, before_commit=rival_commits_first)
    assert (outcome.attempts, outcome.conflicts, outcome.rows) == (2, 1, 1)
    rival = catalog.load_table(IDENTIFIER).snapshots()[0].snapshot_id
    # the retry built on the rival's snapshot, not on the state the first attempt saw;
    # pyiceberg's own retry would have replayed the first build (conflicts == 0)
    assert seen == [None, rival]
    assert ids_in(catalog) == [1, 101]
    table = catalog.load_table(IDENTIFIER)
    current = table.current_snapshot()
    assert current is not None and current.snapshot_id == outcome.snapshot_id
    assert current.summary is not None and current.summary["built-on-rows"] == "2"
    assert len(table.snapshots()) == 2


def test_without_retries_the_conflict_is_a_clear_error_and_nothing_lands(
    settings: Settings, catalog: Catalog
) -> None:
    other = open_catalog(settings)

    def rival_commits_first(attempt: int) -> None:
        other.load_table(IDENTIFIER).append(rows([1]))

    with pytest.raises(CommitRetriesExhaustedError, match="gave up after 1 attempts") as error:
        append_with_retry(
            catalog,
            IDENTIFIER,
            lambda t: (rows([2]), {}),
            attempts=1,
            before_commit=rival_commits_first,
        )
    assert isinstance(error.value, CommitFailedException)
    assert ids_in(catalog) == [1]


def test_a_build_with_nothing_to_do_commits_nothing(catalog: Catalog) -> None:
    outcome = append_with_retry(catalog, IDENTIFIER, lambda t: None)
    assert outcome == AppendOutcome(IDENTIFIER, None, 0, 1, 0)
    assert not outcome.committed
    assert catalog.load_table(IDENTIFIER).snapshots() == []


def test_the_table_properties_keep_pyiceberg_defaults(catalog: Catalog) -> None:
    """Turning pyiceberg's replaying retry off is per commit, never stored in the table."""
    append_with_retry(catalog, IDENTIFIER, lambda t: (rows([1]), {}))
    properties = catalog.load_table(IDENTIFIER).metadata.properties
    assert "commit.retry.num-retries" not in properties


def run_writers(
    settings: Settings, *, batches: int, attempts: int
) -> tuple[list[AppendOutcome], list[Exception]]:
    """Two threads append ``batches`` batches each; returns the outcomes and the errors."""
    barrier = threading.Barrier(2)

    def writer(number: int) -> tuple[list[AppendOutcome], list[Exception]]:
        catalog = open_catalog(settings)
        hook = first_commit_together(barrier)
        outcomes: list[AppendOutcome] = []
        errors: list[Exception] = []
        for _ in range(batches):
            try:
                outcomes.append(
                    append_with_retry(
                        catalog,
                        IDENTIFIER,
                        batch_builder(number),
                        attempts=attempts,
                        backoff=0.01,
                        before_commit=hook,
                    )
                )
            except Exception as error:  # collected: the test asserts on them
                errors.append(error)
        return outcomes, errors

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(writer, [1, 2]))
    return [o for outs, _ in results for o in outs], [e for _, errs in results for e in errs]


def test_two_concurrent_writers_land_every_row_exactly_once(
    settings: Settings, catalog: Catalog
) -> None:
    batches = 12
    outcomes, errors = run_writers(settings, batches=batches, attempts=50)
    assert errors == []  # no CommitFailedException escaped
    assert len(outcomes) == 2 * batches and all(o.committed for o in outcomes)
    conflicts = sum(o.conflicts for o in outcomes)
    assert conflicts > 0, "the writers never collided: the retry was not exercised"
    expected = sorted(
        w * 1000 + i for w in (1, 2) for i in range(batches * BATCH)
    )  # contiguous per writer: no batch lost, none appended twice
    assert ids_in(catalog) == expected
    table = catalog.load_table(IDENTIFIER)
    assert len(table.snapshots()) == 2 * batches  # one snapshot per batch, none extra
    assert committed_offsets(table, "writer-1") == {0: batches}
    assert committed_offsets(table, "writer-2") == {0: batches}
    data = table.scan().to_arrow()
    assert pc.count_distinct(data.column("transaction_id")).as_py() == data.num_rows


def test_the_same_writers_without_retry_lose_a_commit(settings: Settings, catalog: Catalog) -> None:
    _, errors = run_writers(settings, batches=1, attempts=1)
    assert len(errors) == 1 and isinstance(errors[0], CommitFailedException)
    assert len(ids_in(catalog)) == BATCH  # the loser wrote nothing
