"""Erase a customer from the lake, and prove it (``fraudlake audit erase``).

1. the customer's transaction ids are collected from every table that has both
   ``customer_id`` and ``transaction_id`` (rows of the customer by either id);
2. in every table with a ``customer_id`` or ``transaction_id`` column, the matching rows
   are deleted (copy-on-write: the files holding them are rewritten without them);
3. every older snapshot of those tables is expired — history that holds the customer
   cannot be kept — and the data files, manifests and manifest lists no retained
   snapshot references any more are deleted from storage;
4. every retained snapshot of every table is scanned for the customer: the proof is that
   each scan returns no row.

Time travel before the erasure is lost for those tables, and model lineage that pointed
at their older snapshots shows them as expired; that is the cost of erasing. The journal
entry names the customer only by a keyed pseudonym of the id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysFalse, BooleanExpression, EqualTo, In, Or
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import FileScanTask, Table

from fraudlake.audit.history import lake_tables
from fraudlake.lake.deletes import delete_where_any
from fraudlake.lake.snapshot_properties import ERASURE_PROPERTY, commit_properties
from fraudlake.lake.tables import RAW_TABLES
from fraudlake.stream_features.events import Transaction

log = logging.getLogger(__name__)

TRANSACTIONS_TABLE = RAW_TABLES["transactions"].identifier


@dataclass
class TableErasure:
    table: str
    rows_deleted: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0
    #: snapshot id → rows of the customer found there after the erasure (the proof: all 0)
    retained_checked: dict[int, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return all(n == 0 for n in self.retained_checked.values())


@dataclass
class ErasureReport:
    customer_pseudonym: str
    transaction_ids: int
    tables: list[TableErasure]

    @property
    def clean(self) -> bool:
        return all(t.clean for t in self.tables)


def customer_predicates(
    columns: list[str], customer_id: int, transaction_ids: set[int]
) -> list[BooleanExpression]:
    """Rows of the customer in a table with ``columns``: by customer id, and by one of the
    customer's transaction ids (tables such as labels carry only that)."""
    parts: list[BooleanExpression] = []
    if "customer_id" in columns:
        parts.append(EqualTo(term="customer_id", value=customer_id))
    if "transaction_id" in columns and transaction_ids:
        parts.append(In(term="transaction_id", literals=transaction_ids))
    return parts


def customer_filter(
    columns: list[str], customer_id: int, transaction_ids: set[int]
) -> BooleanExpression:
    """:func:`customer_predicates` or-ed together, for reading."""
    parts = customer_predicates(columns, customer_id, transaction_ids)
    if not parts:
        return AlwaysFalse()
    return parts[0] if len(parts) == 1 else Or(*parts)


@dataclass(frozen=True)
class CustomerFootprint:
    """What the lake holds of one customer, found before anything is deleted."""

    customer_id: int
    transaction_ids: set[int]
    #: Whole transactions from raw.transactions (the online store's members are built
    #: from them).
    transactions: list[Transaction]


def _holders(catalog: Catalog) -> dict[str, Table]:
    """Tables that can hold a customer's rows: with customer_id or transaction_id."""
    tables = {name: catalog.load_table(name) for name in lake_tables(catalog)}
    return {
        name: t
        for name, t in tables.items()
        if {"customer_id", "transaction_id"} & set(t.schema().column_names)
    }


def find_customer(catalog: Catalog, customer_id: int) -> CustomerFootprint:
    """The customer's transaction ids from every snapshot of every table that has both
    columns, and their whole transactions from ``raw.transactions``."""
    transaction_ids: set[int] = set()
    transactions: dict[int, Transaction] = {}
    for name, table in _holders(catalog).items():
        if not {"customer_id", "transaction_id"} <= set(table.schema().column_names):
            continue
        found = _read_every_snapshot(table, EqualTo(term="customer_id", value=customer_id))
        transaction_ids.update(found.column("transaction_id").to_pylist())
        if name == TRANSACTIONS_TABLE:
            for row in found.to_pylist():
                transactions[row["transaction_id"]] = Transaction.from_row(row)
    return CustomerFootprint(customer_id, transaction_ids, list(transactions.values()))


def _read_every_snapshot(table: Table, where: BooleanExpression) -> pa.Table:
    """Rows matching ``where`` in any snapshot of ``table``, each data file read once
    (snapshots share most of their files; scanning snapshot by snapshot rereads them)."""
    tasks: dict[str, FileScanTask] = {}
    for snapshot in table.snapshots():
        for task in table.scan(row_filter=where, snapshot_id=snapshot.snapshot_id).plan_files():
            tasks.setdefault(task.file.file_path, task)
    scan = ArrowScan(table.metadata, table.io, table.schema(), where)
    return scan.to_table(tasks.values())


def erase_customer(
    catalog: Catalog,
    footprint: CustomerFootprint,
    pseudonym: str,
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> ErasureReport:
    """Delete the customer of ``footprint`` (:func:`find_customer`) from every table,
    expire the history that held them, delete the unreferenced files, and check every
    retained snapshot. See the module docstring."""
    customer_id, transaction_ids = footprint.customer_id, footprint.transaction_ids
    holders = _holders(catalog)
    summary = commit_properties({ERASURE_PROPERTY: pseudonym})
    report = ErasureReport(pseudonym, len(transaction_ids), [])
    for name, table in sorted(holders.items()):
        where = customer_filter(table.schema().column_names, customer_id, transaction_ids)
        erasure = TableErasure(name)
        erasure.rows_deleted = delete_where_any(
            table,
            customer_predicates(table.schema().column_names, customer_id, transaction_ids),
            summary,
        )
        erasure.snapshots_expired, erasure.files_deleted = _expire_history(table)
        for snapshot in table.snapshots():
            erasure.retained_checked[snapshot.snapshot_id] = _count(
                table, where, snapshot.snapshot_id
            )
        progress(
            f"{name}: {erasure.rows_deleted} row(s) deleted, "
            f"{erasure.snapshots_expired} snapshot(s) expired, "
            f"{erasure.files_deleted} file(s) removed"
        )
        report.tables.append(erasure)
    return report


def _count(table: Table, where: BooleanExpression, snapshot_id: int | None) -> int:
    scan = table.scan(row_filter=where, snapshot_id=snapshot_id, selected_fields=("*",))
    return scan.to_arrow().num_rows


def _expire_history(table: Table) -> tuple[int, int]:
    """Expire every snapshot but the current one; delete what only they referenced.
    Returns (snapshots expired, files deleted)."""
    current = table.current_snapshot()
    if current is None:
        return 0, 0
    older = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != current.snapshot_id]
    if not older:
        return 0, 0
    before = _referenced_files(table)
    table.maintenance.expire_snapshots().by_ids(older).commit()
    table.refresh()
    unreferenced = before - _referenced_files(table)
    for path in sorted(unreferenced):
        table.io.delete(path)
    log.info(
        "%s: expired %d snapshot(s), deleted %d file(s)",
        table.name(),
        len(older),
        len(unreferenced),
    )
    return len(older), len(unreferenced)


def _referenced_files(table: Table) -> set[str]:
    """Manifest lists, manifests and data/delete files of every snapshot of ``table``."""
    files: set[str] = set()
    for snapshot in table.snapshots():
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            files.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                files.add(entry.data_file.file_path)
    return files
