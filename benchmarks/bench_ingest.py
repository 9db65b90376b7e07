"""Ingest: pseudonymise card numbers and land daily batches in Iceberg, against a naive
pandas baseline that hashes row by row and writes one Parquet file per day.

Both take the same simulated days. Ours hashes each distinct card once (dictionary
encoding) and appends each day to the ``raw.transactions`` Iceberg table with its batch
id in the snapshot summary; the baseline is what a first script would do.

    .venv/bin/python -m benchmarks.bench_ingest
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from fraudlake.lake.batches import publish_batch
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.conform import conform
from fraudlake.lake.tables import RAW_TABLES, ensure_table
from fraudlake.params import SimulateParams
from fraudlake.pipeline.validate import batch_rows
from fraudlake.privacy import card_id, pseudonymise_transactions
from fraudlake.settings import Settings
from fraudlake.simulation import simulate

KEY = b"bench-key"


def _days(tx: pa.Table) -> list[tuple[dt.date, pa.Table]]:
    day = pc.cast(tx.column("event_ts"), pa.date32())
    return [
        (d, tx.filter(pc.equal(day, pa.scalar(d, pa.date32())))) for d in pc.unique(day).to_pylist()
    ]


def ours(tx: pa.Table, home: Path) -> float:
    """Seconds to pseudonymise and publish every day of ``tx`` to Iceberg."""
    settings = Settings(home=home)
    spec = RAW_TABLES["transactions"]
    table = ensure_table(open_catalog(settings), spec)
    started = time.perf_counter()
    for day, rows in _days(tx):
        staged = conform(
            pseudonymise_transactions(rows, KEY), table.schema().as_arrow(), spec.identifier
        )
        publish_batch(
            table,
            staged,
            batch_id=f"transactions/{day}",
            content_hash=str(hash((day, rows.num_rows))),
            batch_rows=batch_rows(spec, day),
        )
    return time.perf_counter() - started


def naive(tx: pa.Table, out: Path) -> float:
    """Seconds for the pandas baseline: per-row HMAC, one Parquet file per day."""
    frame = tx.to_pandas()
    started = time.perf_counter()
    frame["card_id"] = frame["card_number"].apply(lambda c: card_id(c, KEY))
    frame = frame.drop(columns=["card_number"])
    for day, rows in frame.groupby(frame["event_ts"].dt.date):
        rows.to_parquet(out / f"{day}.parquet")
    return time.perf_counter() - started


def run(days: int = 30) -> dict[str, float]:
    """Both on ``days`` days of the handbook world; rows/s and the ratio."""
    tx = simulate(SimulateParams(profile="handbook", days=days)).transactions
    with tempfile.TemporaryDirectory(prefix="fraudlake-bench-") as tmp:
        ours_s = ours(tx, Path(tmp) / "home")
        (Path(tmp) / "naive").mkdir()
        naive_s = naive(tx, Path(tmp) / "naive")
    return {
        "rows": tx.num_rows,
        "ours_rows_s": tx.num_rows / ours_s,
        "baseline_rows": tx.num_rows,
        "baseline_rows_s": tx.num_rows / naive_s,
    }


if __name__ == "__main__":
    print(run())
