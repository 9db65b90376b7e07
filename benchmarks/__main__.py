"""``make bench``: every benchmark, ours next to a naive baseline, with ratios.

Each benchmark runs both implementations on the same machine, one after the other, and
reports rows (or events) per second; the ratio is ours / baseline. Name benchmarks to run
only those: ``python -m benchmarks stream``.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from benchmarks import bench_features, bench_ingest, bench_simulate, bench_stream


def _simulate() -> dict[str, float]:
    sim = bench_simulate.run(repeats=1)
    return {
        "rows": sim["ours_rows"],
        "ours_rows_s": sim["ours_rows_s"],
        "baseline_rows": sim["baseline_rows"],
        "baseline_rows_s": sim["baseline_rows_s"],
    }


BATCH: dict[str, tuple[str, Callable[[], dict[str, float]]]] = {
    "simulate": ("simulate: vectorised vs naive pandas (handbook profile, 183 days)", _simulate),
    "ingest": (
        "ingest: HMAC + Iceberg appends vs pandas apply + Parquet (30 days)",
        bench_ingest.run,
    ),
    "features": ("features: DuckDB engine vs pandas rolling windows (90 days)", bench_features.run),
}


def batch_table(results: dict[str, dict[str, float]]) -> Table:
    table = Table(title="batch stages (rows/s, same process, same machine)")
    columns = ("stage", "ours: rows", "ours: rows/s", "baseline: rows", "baseline: rows/s", "ratio")
    for column in columns:
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, r in results.items():
        table.add_row(
            stage,
            f"{r['rows']:,.0f}",
            f"{r['ours_rows_s']:,.0f}",
            f"{r['baseline_rows']:,.0f}",
            f"{r['baseline_rows_s']:,.0f}",
            f"{r['ours_rows_s'] / r['baseline_rows_s']:,.1f}x",
        )
    return table


def stream_table(r: dict[str, float]) -> Table:
    table = Table(
        title=f"streaming features: {r['events']:,.0f} events from a full backlog; lag at a"
        f" steady {r['lag_rate']:,.0f} events/s (produced → visible in Redis)",
        caption=f"{r['rows']:,.0f} feature rows per engine; values differing between the"
        f" engines (> 1e-9): {r['differing_values']:,.0f}",
    )
    for column in ("engine", "events/s", "lag p50 ms", "lag p99 ms"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for key, name in (
        ("flink", "Flink job (PyFlink, 1 slot)"),
        ("python", "plain Python consumer"),
    ):
        table.add_row(
            name,
            f"{r[f'{key}_events_s']:,.0f}",
            f"{r[f'{key}_lag_p50_ms']:,.1f}",
            f"{r[f'{key}_lag_p99_ms']:,.1f}",
        )
    table.add_row(
        "ratio Flink / Python",
        f"{r['flink_events_s'] / r['python_events_s']:.2f}x",
        f"{r['flink_lag_p50_ms'] / r['python_lag_p50_ms']:.2f}x",
        f"{r['flink_lag_p99_ms'] / r['python_lag_p99_ms']:.2f}x",
    )
    return table


def over_table(r: dict[str, float]) -> Table:
    table = Table(title="one window feature in Flink (count + sum per card, last hour), rows/s")
    for column in ("engine", "rows/s"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    table.add_row("Flink SQL OVER (JVM)", f"{r['over_sql_rows_s']:,.0f}")
    table.add_row("Python KeyedProcessFunction (thread mode)", f"{r['over_python_rows_s']:,.0f}")
    table.add_row("ratio SQL / Python", f"{r['over_sql_rows_s'] / r['over_python_rows_s']:.1f}x")
    return table


def main(names: list[str]) -> None:
    console = Console()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    known = [*BATCH, "stream"]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}")
    chosen = names or known
    batch: dict[str, dict[str, float]] = {}
    for name in chosen:
        if name in BATCH:
            title, bench = BATCH[name]
            with console.status(title):
                batch[name] = bench()
    if batch:
        console.print(batch_table(batch))
    if "stream" in chosen:
        with console.status(
            "streaming features: Kafka + Redis + Flink up; Flink job vs plain Python consumer"
        ):
            stream = bench_stream.run()
        console.print(stream_table(stream))
        console.print(over_table(stream))


if __name__ == "__main__":
    main(sys.argv[1:])
