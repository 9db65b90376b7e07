"""The scoring service's targets (its issue's, for Ray Serve on a 2-core machine, full
path: features from Redis, reasons, decision published), judged on a ``make bench`` run.
Apart from the benchmark so that judging needs none of the engines."""

from __future__ import annotations

MAX_RPS, MAX_P99_MS, STEADY_P99_MS, BATCH_TXN_S = 1_500, 50.0, 15.0, 30_000


def serving_targets(r: dict[str, float]) -> list[tuple[str, str, bool]]:
    """Each target of Ray Serve: what it asks, what this run measured, and whether the run
    meets it (without a failed request)."""

    def clean(run: str) -> bool:
        return r[f"ray_{run}_success"] == 1.0

    return [
        (
            f"≥ {MAX_RPS:,} single req/s at p99 < {MAX_P99_MS:.0f} ms",
            f"{r['ray_max_rps']:,.0f} req/s at p99 {r['ray_max_p99_ms']:.1f} ms",
            r["ray_max_rps"] >= MAX_RPS and r["ray_max_p99_ms"] < MAX_P99_MS and clean("max"),
        ),
        (
            f"p99 < {STEADY_P99_MS:.0f} ms at a steady 200 req/s",
            f"p99 {r['ray_steady_p99_ms']:.1f} ms",
            r["ray_steady_p99_ms"] < STEADY_P99_MS and clean("steady"),
        ),
        (
            f"≥ {BATCH_TXN_S:,} txn/s on the batch path",
            f"{r['ray_batch_txn_s']:,.0f} txn/s",
            r["ray_batch_txn_s"] >= BATCH_TXN_S and clean("batch"),
        ),
    ]
