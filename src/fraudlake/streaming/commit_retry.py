"""Iceberg appends that survive concurrent writers: rebuild from fresh state, then retry.

An Iceberg commit is optimistic: it succeeds only if the table did not change since the
writer loaded it; otherwise the catalog raises :class:`CommitFailedException`. What the
writer appends may depend on that state (a stream sink's rows and offsets do: another
sink may have consumed the same messages meanwhile), so a retry must not replay the
failed attempt; it must reload the table and *rebuild* the append from it.

pyiceberg >= 0.12 retries failed appends by itself, but by replaying the same rows and
snapshot summary on the new head, which for an offset-bearing append means duplicate
rows and offsets moved backwards. :func:`append_with_retry` turns that replay off for its
own commits (``commit.retry.num-retries`` = 0 in the in-memory copy of the table's
properties; the table's stored properties are untouched) and does the retrying itself,
calling ``build`` again on the reloaded table every time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table, TableProperties

from fraudlake.lake.snapshot_properties import commit_properties

log = logging.getLogger(__name__)

#: What to append and the snapshot-summary properties to record with it; None when the
#: fresh table state shows there is nothing to commit (no snapshot is created then).
Build = Callable[[Table], tuple[pa.Table, dict[str, str]] | None]
#: Called with the attempt number (1-based) after ``build`` and after the data files are
#: written, right before the catalog commit; tests use it to crash or race there.
BeforeCommit = Callable[[int], None]


class CommitRetriesExhaustedError(CommitFailedException):
    """Every attempt lost to a concurrent writer; nothing was committed."""


@dataclass(frozen=True)
class AppendOutcome:
    """What :func:`append_with_retry` did.

    ``snapshot_id`` is the new snapshot (None when ``build`` found nothing to commit),
    ``rows`` the rows appended, ``attempts`` how many times ``build`` ran and
    ``conflicts`` how many commits lost to a concurrent writer and were retried.
    """

    identifier: str
    snapshot_id: int | None
    rows: int
    attempts: int
    conflicts: int

    @property
    def committed(self) -> bool:
        return self.snapshot_id is not None


def _without_builtin_retry(table: Table) -> Table:
    # Only this in-memory copy of the metadata changes: the catalog applies a commit's
    # updates to the metadata it loads itself, so the override never reaches storage.
    properties = {**table.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
    table.metadata = table.metadata.model_copy(update={"properties": properties})
    return table


def append_with_retry(
    catalog: Catalog,
    identifier: str,
    build: Build,
    *,
    attempts: int = 8,
    backoff: float = 0.05,
    max_backoff: float = 2.0,
    before_commit: BeforeCommit | None = None,
) -> AppendOutcome:
    """Append ``build(table)`` to ``identifier`` in one snapshot, retrying on conflicts.

    Each attempt loads the table afresh, calls ``build`` on it, appends the returned rows
    with the returned properties in the snapshot summary, and commits. When the commit
    loses to a concurrent writer (:class:`CommitFailedException`) the attempt's files are
    cleaned up, the writer sleeps a random time up to ``backoff * 2**n`` seconds (capped at
    ``max_backoff``; random so that two writers in lockstep drift apart) and tries again
    with a fresh ``build``. After ``attempts`` conflicts it raises
    :class:`CommitRetriesExhaustedError` (a ``CommitFailedException``); any other error,
    including one raised by ``build`` or ``before_commit``, propagates at once. Either
    way nothing was committed. A ``build`` returning None ends the call without a commit.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    conflicts = 0
    for attempt in range(1, attempts + 1):
        table = catalog.load_table(identifier)
        built = build(table)
        if built is None:
            return AppendOutcome(identifier, None, 0, attempt, conflicts)
        data, summary = built
        transaction = _without_builtin_retry(table).transaction()
        # Writes the data files and manifests now; the catalog sees nothing until commit.
        transaction.append(data, snapshot_properties=commit_properties(summary))
        if before_commit is not None:
            before_commit(attempt)
        try:
            committed = transaction.commit_transaction()
        except CommitFailedException as error:
            conflicts += 1
            if attempt == attempts:
                raise CommitRetriesExhaustedError(
                    f"{identifier}: gave up after {attempts} attempts, each lost to a "
                    f"concurrent writer (last: {error}); nothing was committed"
                ) from error
            delay = random.uniform(0.0, min(max_backoff, backoff * 2 ** (attempt - 1)))
            log.info(
                "%s: commit attempt %d lost to a concurrent writer; rebuilding in %.3fs",
                identifier,
                attempt,
                delay,
            )
            time.sleep(delay)
            continue
        snapshot = committed.current_snapshot()
        return AppendOutcome(
            identifier,
            snapshot.snapshot_id if snapshot else None,
            data.num_rows,
            attempt,
            conflicts,
        )
    raise AssertionError("unreachable: the last attempt returns or raises")
