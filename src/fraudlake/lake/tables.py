"""The lake's tables: identifiers, explicit schemas and day partitioning.

Schemas come from :mod:`fraudlake.schemas` (raw tables) and from the feature definitions
(``features.transactions``), never inferred from data.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from fraudlake import schemas
from fraudlake.features.batch import ID_COLUMNS
from fraudlake.features.definitions import FeatureSet


@dataclass(frozen=True)
class TableSpec:
    """An Iceberg table: identifier, Arrow schema and the timestamp/date it is split by."""

    identifier: str
    schema: pa.Schema
    partition_by_day: str
    description: str
    #: Columns that identify a row: a stream sink skips a message whose key the table
    #: already holds (a label sent twice, a decision published again after a retry).
    unique_by: tuple[str, ...] = ()

    @property
    def namespace(self) -> str:
        return self.identifier.split(".")[0]


RAW_TABLES: dict[str, TableSpec] = {
    "transactions": TableSpec(
        "raw.transactions",
        schemas.TRANSACTIONS,
        "event_ts",
        "card transactions, card numbers pseudonymised",
    ),
    "customers": TableSpec(
        "raw.customers", schemas.CUSTOMERS, "profile_date", "customer profiles by profile date"
    ),
    "labels": TableSpec(
        "raw.labels",
        schemas.LABELS,
        "reported_at",
        "fraud investigation outcomes, delayed",
        unique_by=("transaction_id",),
    ),
    "fraud_intel": TableSpec(
        "raw.fraud_intel",
        schemas.FRAUD_INTEL,
        "reported_at",
        "external feed of compromised terminals",
    ),
}


#: ``audit.decisions``: every decision the scorer made, from Kafka ``decisions``.
DECISIONS_TABLE = TableSpec(
    "audit.decisions",
    schemas.DECISIONS,
    "decided_at",
    "every scoring decision with its score, model version and top reasons",
    # The same answer published twice (HAProxy re-sent a request a dying replica held) is
    # one decision; the same transaction decided again by another model is another.
    unique_by=("transaction_id", "model_name", "model_version", "decision"),
)

#: ``audit.actions``: the journal of what auditors did (``fraudlake audit``).
ACTIONS_TABLE = TableSpec(
    "audit.actions",
    schemas.AUDIT_ACTIONS,
    "at",
    "every audit action (reads, explanations, lineage, erasures) with its outcome",
)

#: Tables an auditor reads: what was decided, by which model, and why; what auditors did.
AUDIT_TABLES: dict[str, TableSpec] = {"decisions": DECISIONS_TABLE, "actions": ACTIONS_TABLE}


def features_spec(features: FeatureSet) -> TableSpec:
    """``features.transactions``: identifying columns then every defined feature."""
    id_fields = [schemas.TRANSACTIONS.field(name) for name in ID_COLUMNS]
    # Optional, so a feature dropped from feature_defs/ becomes null instead of failing writes.
    feature_fields = [pa.field(name, pa.float64(), nullable=True) for name in features.names]
    return TableSpec(
        "features.transactions",
        pa.schema(id_fields + feature_fields),
        "event_ts",
        "point-in-time features of every transaction",
    )


def ensure_table(catalog: Catalog, spec: TableSpec) -> Table:
    """Load the table, creating it (schema and day partition in one commit) if missing.

    An existing table whose schema lacks columns of ``spec`` is evolved by name, so that
    adding a feature definition adds a column instead of failing.
    """
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(spec.namespace)
    try:
        table = catalog.load_table(spec.identifier)
    except NoSuchTableError:
        with (
            catalog.create_table_transaction(
                spec.identifier, schema=spec.schema, properties={"comment": spec.description}
            ) as txn,
            txn.update_spec() as update,
        ):
            update.add_field(spec.partition_by_day, DayTransform(), f"{spec.partition_by_day}_day")
        return catalog.load_table(spec.identifier)
    current = set(table.schema().column_names)
    if not set(spec.schema.names) <= current:
        with table.update_schema() as update:
            update.union_by_name(spec.schema)
        table = catalog.load_table(spec.identifier)
    return table
