"""The point-in-time training set: feature rows joined with their (eventual) labels.

A transaction is fraud when any investigation reported it so; ``label_reported_at`` is
the first such report (the split uses it to find cards already known compromised before
the test period). Segment and region come from each customer's latest profile, for
sliced metrics. Everything is read at fixed Iceberg snapshots, so a run can be rebuilt
exactly from the ids it records.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa
from pyiceberg.catalog import Catalog

from fraudlake.lake.snapshot_properties import FEATURES_PROPERTY
from fraudlake.lake.snapshots import current_snapshot_ids, read_table

FEATURES_TABLE = "features.transactions"
TRAINING_SOURCES = [FEATURES_TABLE, "raw.labels", "raw.customers"]


class TrainingSetError(RuntimeError):
    """The lake cannot give a training set; the message says which stage to run."""


@dataclass(frozen=True)
class TrainingSet:
    frame: pd.DataFrame
    feature_columns: list[str]
    snapshot_ids: dict[str, int | None]


def label_frame(
    features: pa.Table, labels: pa.Table, customers: pa.Table, feature_columns: list[str]
) -> pd.DataFrame:
    """``features`` with ``is_fraud`` (0/1), ``label_reported_at``, ``segment``, ``region``.

    Pure: takes Arrow tables, returns one row per feature row, in event-time order.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")
    con.register("features_in", features)
    con.register("labels_in", labels)
    con.register("customers_in", customers)
    out = con.sql(
        """
        WITH first_fraud AS (
            SELECT transaction_id, min(reported_at) AS label_reported_at
            FROM labels_in WHERE is_fraud GROUP BY transaction_id
        ), profile AS (
            SELECT customer_id, arg_max(segment, profile_date) AS segment,
                   arg_max(region, profile_date) AS region
            FROM customers_in GROUP BY customer_id
        )
        SELECT f.*, CAST(ff.transaction_id IS NOT NULL AS INTEGER) AS is_fraud,
               ff.label_reported_at, p.segment, p.region
        FROM features_in f
        LEFT JOIN first_fraud ff USING (transaction_id)
        LEFT JOIN profile p USING (customer_id)
        ORDER BY f.event_ts, f.transaction_id
        """
    ).to_arrow_table()
    con.close()
    frame = out.to_pandas()
    frame[feature_columns] = frame[feature_columns].astype("float64")
    return frame


def feature_columns_of(features: pa.Table, id_columns: tuple[str, ...]) -> list[str]:
    """The feature columns of a ``features.transactions`` read: all but the id columns."""
    return [name for name in features.column_names if name not in id_columns]


def load_training_set(
    catalog: Catalog, snapshot_ids: dict[str, int | None] | None = None
) -> TrainingSet:
    """The training set at ``snapshot_ids`` (default: the tables' current snapshots)."""
    from fraudlake.features.batch import ID_COLUMNS

    ids = dict(snapshot_ids) if snapshot_ids else current_snapshot_ids(catalog, TRAINING_SOURCES)
    for name in (FEATURES_TABLE, "raw.customers"):
        if ids.get(name) is None:
            raise TrainingSetError(f"{name} is empty or missing: run `fraudlake features` first")
    features = read_table(catalog, FEATURES_TABLE, ids[FEATURES_TABLE])
    customers = read_table(catalog, "raw.customers", ids["raw.customers"])
    if ids.get("raw.labels") is None:
        from fraudlake.schemas import LABELS

        labels = LABELS.empty_table()
    else:
        labels = read_table(catalog, "raw.labels", ids["raw.labels"])
    columns = recorded_features(catalog, ids[FEATURES_TABLE]) or feature_columns_of(
        features, ID_COLUMNS
    )
    features = features.select([*ID_COLUMNS, *columns])
    return TrainingSet(label_frame(features, labels, customers, columns), columns, ids)


def recorded_features(catalog: Catalog, snapshot_id: int | None) -> list[str]:
    """The feature names the features stage wrote in ``snapshot_id``'s summary.

    The table keeps columns of retired definitions (schema evolution never drops them;
    they are null in newer snapshots), so the summary, not the schema, says which
    columns are the snapshot's features."""
    table = catalog.load_table(FEATURES_TABLE)
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    summary = snapshot.summary if snapshot and snapshot.summary else None
    names = summary.additional_properties.get(FEATURES_PROPERTY) if summary else None
    return [n for n in names.split(",") if n] if names else []
