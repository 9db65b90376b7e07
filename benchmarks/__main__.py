"""``make bench``: every benchmark, ours next to a naive baseline, with ratios.

Each benchmark runs both implementations on the same machine, one after the other, and
reports rows (or events) per second; the ratio is ours / baseline. Name benchmarks to run
only those: ``python -m benchmarks stream``.
"""

from __future__ import annotations

import logging
import shutil
import sys
import warnings
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from benchmarks import bench_features, bench_ingest, bench_serving, bench_simulate, bench_stream
from benchmarks.serving_targets import serving_targets


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


def serving_table(r: dict[str, float]) -> Table:
    table = Table(
        title=f"scoring service, full path (Redis features, predict, reasons for review/decline,"
        f" decision to Kafka); {r['requests']:,.0f} transactions of one simulated day",
        caption="single: one transaction per request; steady = open loop at 200 req/s; "
        "max = 32 concurrent workers; batch = 256 transactions per request, 4 workers",
    )
    columns = (
        "server",
        "steady p50 ms",
        "steady p99 ms",
        "max req/s",
        "max p99 ms",
        "batch txn/s",
        "errors",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "server" else "right")
    for key, name in (
        ("peer", "FastAPI under uvicorn, 1 worker"),
        ("ray", "Ray Serve, 2 replicas"),
    ):
        failed = sum(1 - r[f"{key}_{k}_success"] for k in ("steady", "max", "batch"))
        table.add_row(
            name,
            f"{r[f'{key}_steady_p50_ms']:.1f}",
            f"{r[f'{key}_steady_p99_ms']:.1f}",
            f"{r[f'{key}_max_rps']:,.0f}",
            f"{r[f'{key}_max_p99_ms']:.1f}",
            f"{r[f'{key}_batch_txn_s']:,.0f}",
            "none" if failed == 0 else f"{failed:.2%}",
        )
    table.add_row(
        "ratio Ray / uvicorn",
        f"{r['ray_steady_p50_ms'] / r['peer_steady_p50_ms']:.2f}x",
        f"{r['ray_steady_p99_ms'] / r['peer_steady_p99_ms']:.2f}x",
        f"{r['ray_max_rps'] / r['peer_max_rps']:.2f}x",
        f"{r['ray_max_p99_ms'] / r['peer_max_p99_ms']:.2f}x",
        f"{r['ray_batch_txn_s'] / r['peer_batch_txn_s']:.2f}x",
        "",
    )
    table.add_section()
    limit = r["inproc_scorer_batch_rows_s"]
    table.add_row(
        "in process, no HTTP (the limit)",
        "",
        "",
        f"{r['inproc_scorer_one_rows_s']:,.0f}",
        "",
        f"{limit:,.0f}",
        "",
    )
    table.add_row(
        "Ray Serve / in-process limit",
        "",
        "",
        f"{r['ray_max_rps'] / r['inproc_scorer_one_rows_s']:.2f}x",
        "",
        f"{r['ray_batch_txn_s'] / limit:.2f}x",
        "",
    )
    return table


def targets_table(r: dict[str, float]) -> Table:
    table = Table(
        title="the scoring service's targets (Ray Serve, this run)",
        caption="max = the 32-worker run: its p99 is that of its rate, so a p99 over the "
        "target there does not rule the rate out at fewer workers",
    )
    for column in ("target", "measured", "met"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for target, measured, met in serving_targets(r):
        table.add_row(target, measured, "yes" if met else "[bold red]no[/]")
    return table


def model_table(r: dict[str, float]) -> Table:
    table = Table(title="the model alone (200-tree LightGBM, 42 features), rows/s in process")
    for column in ("call", "one row", f"{bench_serving.BATCH}-row batches"):
        table.add_column(column, justify="left" if column == "call" else "right")
    table.add_row(
        "predict",
        f"{r['inproc_predict_one_rows_s']:,.0f}",
        f"{r['inproc_predict_batch_rows_s']:,.0f}",
    )
    table.add_row(
        f"predict compiled by lleaves ({r['inproc_compiled_compile_s']:.0f} s to compile)",
        f"{r['inproc_compiled_one_rows_s']:,.0f}",
        f"{r['inproc_compiled_batch_rows_s']:,.0f}",
    )
    table.add_row(
        "ratio compiled / native",
        f"{r['inproc_compiled_one_rows_s'] / r['inproc_predict_one_rows_s']:.1f}x",
        f"{r['inproc_compiled_batch_rows_s'] / r['inproc_predict_batch_rows_s']:.1f}x",
    )
    table.add_row("pred_contrib (reasons)", f"{r['inproc_contrib_one_rows_s']:,.0f}", "")
    return table


def main(names: list[str]) -> None:
    console = Console(width=max(shutil.get_terminal_size((150, 24)).columns, 120))
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    known = [*BATCH, "stream", "serving"]
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
    if "serving" in chosen:
        with console.status("scoring service: Redis + Kafka + Ray up; uvicorn peer vs Ray Serve"):
            serving = bench_serving.run()
        console.print(serving_table(serving))
        console.print(targets_table(serving))
        console.print(model_table(serving))
        for key in ("peer", "ray"):
            for run, label in (("max", "max-rate"), ("batch", "batch")):
                prefix = f"{key}_{run}_cpu_"
                cores = [
                    f"{name.removeprefix(prefix)} {value:.2f}"
                    for name, value in serving.items()
                    if name.startswith(prefix)
                ]
                console.print(f"cores used during the {key} {label} run: {', '.join(cores)}")


if __name__ == "__main__":
    main(sys.argv[1:])
