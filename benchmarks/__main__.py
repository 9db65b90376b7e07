"""``make bench``: every benchmark, ours next to a naive pandas baseline, with ratios.

Each benchmark runs both implementations in this process on the same machine, one after
the other, and reports rows per second; the ratio is ours / baseline.
"""

from __future__ import annotations

import logging
import warnings

from rich.console import Console
from rich.table import Table

from benchmarks import bench_features, bench_ingest, bench_simulate


def main() -> None:
    console = Console()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    results: dict[str, dict[str, float]] = {}
    with console.status("simulate: vectorised vs naive pandas (handbook profile, 183 days)"):
        sim = bench_simulate.run(repeats=1)
        results["simulate"] = {
            "rows": sim["ours_rows"],
            "ours_rows_s": sim["ours_rows_s"],
            "baseline_rows": sim["baseline_rows"],
            "baseline_rows_s": sim["baseline_rows_s"],
        }
    with console.status("ingest: HMAC + Iceberg appends vs pandas apply + Parquet (30 days)"):
        results["ingest"] = bench_ingest.run()
    with console.status("features: DuckDB engine vs pandas rolling windows (90 days)"):
        results["features"] = bench_features.run()

    table = Table(title="fraudlake benchmarks (rows/s, same process, same machine)")
    for column in (
        "stage",
        "ours: rows",
        "ours: rows/s",
        "baseline: rows",
        "baseline: rows/s",
        "ratio",
    ):
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
    console.print(table)


if __name__ == "__main__":
    main()
