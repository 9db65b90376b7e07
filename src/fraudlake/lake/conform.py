"""Make an Arrow table fit an Iceberg table's current schema before writing."""

from __future__ import annotations

import pyarrow as pa


class SchemaMismatchError(ValueError):
    """Data cannot be written to a table; the message names the columns."""


def conform(data: pa.Table, target: pa.Schema, table_name: str) -> pa.Table:
    """Reorder and cast ``data`` to ``target``; optional columns it lacks become nulls.

    Required target columns missing from ``data``, or columns of ``data`` the target does
    not have, raise :class:`SchemaMismatchError` naming them.
    """
    extra = [n for n in data.column_names if n not in target.names]
    missing = [f.name for f in target if f.name not in data.column_names and not f.nullable]
    if extra or missing:
        raise SchemaMismatchError(
            f"{table_name}: columns not in the table {extra}, required columns missing {missing}"
        )
    columns = [
        data.column(f.name).cast(f.type)
        if f.name in data.column_names
        else pa.nulls(data.num_rows, f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target)
