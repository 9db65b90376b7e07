"""Delete the rows matching any of several predicates, without the null trap.

pyiceberg 0.12's copy-on-write delete keeps every row for which its filter is *null*, not
only those for which it is false: ``customer_id = 1 OR transaction_id IN (...)`` is null
for a row without a customer id (an older decision record), so that row survives even
when its transaction matches. One delete per predicate never meets a null on the column
that matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table


def delete_where_any(
    table: Table,
    predicates: Iterable[BooleanExpression],
    snapshot_properties: Mapping[str, str],
) -> int:
    """Delete the rows of ``table`` matching any of ``predicates`` — one commit per
    predicate that still matches rows — and return how many rows went (each counted once)."""
    deleted = 0
    for predicate in predicates:
        table.refresh()
        matching = table.scan(row_filter=predicate).count()
        if matching:
            table.delete(delete_filter=predicate, snapshot_properties=dict(snapshot_properties))
            deleted += matching
    table.refresh()
    return deleted
