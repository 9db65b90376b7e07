"""Benchmark of the validation gate: per-batch cost on a realistic transactions batch.

``python -m fraudlake.validation.bench [--rows 30000] [--batches 10] [--customers 3000]``
builds one synthetic, valid, staged transactions day (through ``schemas.TRANSACTIONS``
and ``to_pandas``, like the pipeline), validates it ``--batches`` times with ONE
:class:`BatchValidator` in a temporary root, and prints the set-up time, the median and
worst per-batch time, the time of one failing batch and of ``build_docs``. Nothing is
asserted: speed is reported, not tested.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from fraudlake import schemas
from fraudlake.validation.gate import BatchValidator

DAY = dt.date(2024, 1, 1)


def synthetic_transactions(rows: int, customers: int, seed: int = 0) -> pd.DataFrame:
    """A valid staged transactions batch of ``DAY`` with ``rows`` rows."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(DAY, tz="UTC")
    offsets = np.sort(rng.integers(0, 86_400 * 10**6, rows))
    table = pa.table(
        {
            "transaction_id": np.arange(rows, dtype=np.int64),
            "event_ts": pa.array(
                (start + pd.to_timedelta(offsets, unit="us")).as_unit("us"), type=schemas.TS
            ),
            "customer_id": rng.integers(0, customers, rows),
            "card_id": [f"{h:016x}" for h in rng.integers(0, 2**62, rows)],
            "terminal_id": rng.integers(0, 6_000, rows),
            "terminal_x": rng.uniform(0, 100, rows),
            "terminal_y": rng.uniform(0, 100, rows),
            "merchant_category": rng.choice(["grocery", "fuel", "online", "travel"], rows),
            "amount": rng.gamma(2.0, 30.0, rows).round(2),
            "currency": ["EUR"] * rows,
        },
        schema=schemas.TRANSACTIONS,
    )
    return table.to_pandas()


def run(rows: int, batches: int, customers: int, root: Path) -> dict[str, float]:
    """Time the gate; returns seconds per phase (see the module docstring)."""
    frame = synthetic_transactions(rows, customers)
    known = range(customers)
    t0 = time.perf_counter()
    validator = BatchValidator(root)
    setup = time.perf_counter() - t0
    times = []
    for i in range(batches):
        t0 = time.perf_counter()
        outcome = validator.validate("transactions", frame, f"bench-{i}", DAY, known)
        times.append(time.perf_counter() - t0)
        if not outcome.success:
            raise RuntimeError(f"synthetic batch failed validation: {outcome.failed}")
    broken = frame.copy()
    broken.loc[broken.index[::100], "amount"] = -1.0
    broken.loc[broken.index[::250], "customer_id"] = customers + 7
    t0 = time.perf_counter()
    validator.validate("transactions", broken, "bench-broken", DAY, known)
    failing = time.perf_counter() - t0
    t0 = time.perf_counter()
    validator.build_docs()
    docs = time.perf_counter() - t0
    return {
        "setup": setup,
        "median": statistics.median(times),
        "max": max(times),
        "failing": failing,
        "build_docs": docs,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point; prints one line per measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--customers", type=int, default=3_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fraudlake-gx-bench-") as tmp:
        result = run(args.rows, args.batches, args.customers, Path(tmp))
    print(f"transactions batch: {args.rows} rows, {args.batches} batches, one validator")
    print(f"  validator set-up        {result['setup'] * 1000:8.1f} ms (once per run)")
    print(f"  validate, median        {result['median'] * 1000:8.1f} ms per batch")
    print(f"  validate, worst         {result['max'] * 1000:8.1f} ms per batch")
    print(f"  validate, failing batch {result['failing'] * 1000:8.1f} ms")
    docs_ms = result["build_docs"] * 1000
    print(f"  build_docs, {args.batches + 1} pages   {docs_ms:8.1f} ms (once per run)")


if __name__ == "__main__":
    main()
