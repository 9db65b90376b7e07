"""Table specs reach tables created before them: columns added, requirements relaxed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from fraudlake import schemas
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import DECISIONS_TABLE, TableSpec, ensure_table
from fraudlake.settings import Settings

#: ``audit.decisions`` as the first releases created it: score and version required.
OLD_DECISIONS = pa.schema(
    [
        pa.field("transaction_id", pa.int64(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("decision", pa.string(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("decided_at", schemas.TS, nullable=False),
    ]
)


def test_an_older_decisions_table_takes_degraded_decisions_after_ensure(tmp_path: Path) -> None:
    catalog = open_catalog(Settings(home=tmp_path / "lake"))
    old_spec = TableSpec("audit.decisions", OLD_DECISIONS, "decided_at", "old")
    old = ensure_table(catalog, old_spec)
    at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    old.append(
        pa.Table.from_pylist(
            [
                dict(
                    transaction_id=1,
                    score=0.2,
                    decision="approve",
                    model_name="m",
                    model_version="3",
                    decided_at=at,
                )
            ],
            schema=OLD_DECISIONS,
        )
    )
    table = ensure_table(catalog, DECISIONS_TABLE)
    assert table.schema().column_names == [
        *OLD_DECISIONS.names[:-1],
        "decided_at",
        *[n for n in schemas.DECISIONS.names if n not in OLD_DECISIONS.names],
    ]
    assert not table.schema().find_field("score").required
    degraded = {n: None for n in schemas.DECISIONS.names} | dict(
        transaction_id=2,
        decision="review",
        model_name="fallback-rules",
        degraded=True,
        decided_at=at,
    )
    table.append(pa.Table.from_pylist([degraded], schema=schemas.DECISIONS))
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["transaction_id"])
    assert [(r["transaction_id"], r["score"], r["degraded"]) for r in rows] == [
        (1, 0.2, None),
        (2, None, True),
    ]
