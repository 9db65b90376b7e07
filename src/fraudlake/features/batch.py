"""Vectorised batch feature engine on DuckDB.

Window features become SQL window functions over integer event time (microseconds), so
``RANGE BETWEEN W PRECEDING AND CURRENT ROW EXCLUDE GROUP`` is exactly DESIGN.md's
``[t - W, t)``: ``EXCLUDE GROUP`` drops the current row *and* every row at the same
instant. Amounts are summed as integer cents, then turned into floats by
:mod:`fraudlake.features.window_values`, the formula every engine shares.
Label windows are a range join of each transaction with the entity's fraud labels.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from fraudlake.features.definitions import FeatureSet, LabelWindowDef, window_seconds
from fraudlake.features.request_time import REQUEST_INPUTS, request_features
from fraudlake.features.window_values import label_feature, window_feature

#: Identifying columns that lead every feature row.
ID_COLUMNS = ("transaction_id", "event_ts", "card_id", "customer_id", "terminal_id")


class FeatureInputError(ValueError):
    """The inputs cannot produce features (e.g. a transaction of an unknown customer)."""


def _frame(keys: tuple[str, ...], window: str, delay_s: int = 0) -> str:
    """Window frame of ``[t - D - W, t - D)`` on integer microseconds (D = ``delay_s``).

    Without delay, ``EXCLUDE GROUP`` drops rows at exactly ``t`` (the current one and any
    same-instant peers); with one, the upper bound ``D + 1`` microsecond makes ``t - D``
    exclusive.
    """
    width = window_seconds(window) * 1_000_000
    partition = f"PARTITION BY {', '.join(keys)} ORDER BY event_us"
    if not delay_s:
        return f"({partition} RANGE BETWEEN {width} PRECEDING AND CURRENT ROW EXCLUDE GROUP)"
    delay = delay_s * 1_000_000
    return f"({partition} RANGE BETWEEN {width + delay} PRECEDING AND {delay + 1} PRECEDING)"


def _window_sql(features: FeatureSet) -> str:
    """SELECT list of the raw window aggregates (``<alias>__n`` count, ``__c`` cents)."""
    parts: list[str] = []
    seen: set[str] = set()
    windowed: list[tuple[tuple[str, ...], str, str, int]] = [
        *[(d.keys, f"{d.entity}__{w}", w, 0) for d in features.windows for w in d.windows],
        *[
            (d.keys, d.alias(w), w, d.delay_seconds)
            for d in features.label_windows
            for w in d.windows
        ],
    ]
    for keys, alias, window, delay_s in windowed:
        if alias in seen:
            continue
        seen.add(alias)
        frame = _frame(keys, window, delay_s)
        parts.append(f"count(*) OVER {frame} AS {alias}__n")
        parts.append(f"coalesce(sum(cents) OVER {frame}, 0)::BIGINT AS {alias}__c")
    return ", ".join(parts)


def _label_sql(d: LabelWindowDef) -> str:
    """Per transaction, fraud labels known before it among the entity's window rows."""
    delay = d.delay_seconds * 1_000_000
    widest = max(window_seconds(w) for w in d.windows) * 1_000_000 + delay
    join = " AND ".join(f"f.{k} = x.{k}" for k in d.keys)
    counts = ", ".join(
        "count(*) FILTER (WHERE f.event_us >= "
        f"x.event_us - {window_seconds(w) * 1_000_000 + delay}) AS {d.alias(w)}__fraud"
        for w in d.windows
    )
    keys = ", ".join(f"t.{k}" for k in d.keys)
    return f"""
        WITH fraud AS (
            SELECT {keys}, t.event_us, l.reported_us
            FROM tx t JOIN first_fraud l USING (transaction_id)
        )
        SELECT x.transaction_id, {counts}
        FROM tx x JOIN fraud f
          ON {join}
         AND f.event_us < x.event_us - {delay}
         AND f.event_us >= x.event_us - {widest}
         AND f.reported_us < x.event_us
        GROUP BY x.transaction_id
    """


def compute_features(
    transactions: pa.Table, customers: pa.Table, labels: pa.Table, features: FeatureSet
) -> pa.Table:
    """Feature rows for every transaction, ordered by (event_ts, transaction_id).

    ``transactions``, ``customers`` and ``labels`` follow the lake schemas in
    :mod:`fraudlake.schemas`. Each output row holds :data:`ID_COLUMNS` then every feature
    of ``features.names`` as float64.
    """
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.register("tx_in", transactions)
    con.register("customers_in", customers)
    con.register("labels_in", labels)
    con.execute(
        """
        CREATE TEMP TABLE tx AS
        SELECT transaction_id, event_ts, epoch_us(event_ts) AS event_us, card_id, customer_id,
               terminal_id, terminal_x, terminal_y, amount,
               CAST(round(amount * 100) AS BIGINT) AS cents
        FROM tx_in
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE first_fraud AS
        SELECT transaction_id, epoch_us(min(reported_at)) AS reported_us
        FROM labels_in WHERE is_fraud GROUP BY transaction_id
        """
    )
    [unknown] = con.execute(
        "SELECT count(*), min(customer_id) FROM tx WHERE customer_id NOT IN "
        "(SELECT customer_id FROM customers_in)"
    ).fetchall()
    if unknown[0]:
        raise FeatureInputError(
            f"{unknown[0]} transactions belong to customers without a profile "
            f"(e.g. customer_id {unknown[1]}); ingest raw.customers first"
        )

    window_select = _window_sql(features)
    label_joins = ""
    label_cols = ""
    for i, ld in enumerate(features.label_windows):
        label_joins += f" LEFT JOIN ({_label_sql(ld)}) lw{i} USING (transaction_id)"
        label_cols += "".join(
            f", coalesce(lw{i}.{ld.alias(w)}__fraud, 0)::BIGINT AS {ld.alias(w)}__fraud"
            for w in ld.windows
        )
    query = f"""
        WITH windows AS (
            SELECT transaction_id{", " + window_select if window_select else ""} FROM tx
        )
        SELECT t.transaction_id, t.event_ts, t.card_id, t.customer_id, t.terminal_id,
               t.event_us, t.amount, t.terminal_x, t.terminal_y,
               c.home_x, c.home_y, c.mean_amount, c.std_amount,
               windows.* EXCLUDE (transaction_id){label_cols}
        FROM tx t
        JOIN customers_in c USING (customer_id)
        JOIN windows USING (transaction_id)
        {label_joins}
        ORDER BY t.event_us, t.transaction_id
    """
    raw = con.sql(query).to_arrow_table()
    con.close()

    cols = {name: raw.column(name).to_numpy() for name in raw.column_names if "__" in name}
    values: dict[str, np.ndarray] = {}
    for d in features.windows:
        for w in d.windows:
            n, c = cols[f"{d.entity}__{w}__n"], cols[f"{d.entity}__{w}__c"]
            for agg in d.aggregations:
                values[d.feature_name(agg, w)] = window_feature(agg, n, c)
    for label_def in features.label_windows:
        for w in label_def.windows:
            fraud, n = cols[f"{label_def.alias(w)}__fraud"], cols[f"{label_def.alias(w)}__n"]
            for label_agg in label_def.aggregations:
                values[label_def.feature_name(label_agg, w)] = label_feature(label_agg, fraud, n)
    inputs = {name: raw.column(name).to_numpy() for name in REQUEST_INPUTS}
    values.update(request_features(inputs, features.request))

    arrays = [raw.column(name) for name in ID_COLUMNS]
    arrays += [pa.array(values[name], pa.float64()) for name in features.names]
    return pa.Table.from_arrays(arrays, names=[*ID_COLUMNS, *features.names])
