"""The scoring targets ``make bench`` judges: each met only on its own side of its bound,
and never by a run with failed requests."""

from __future__ import annotations

import pytest
from benchmarks.serving_targets import (
    BATCH_TXN_S,
    MAX_P99_MS,
    MAX_RPS,
    STEADY_P99_MS,
    serving_targets,
)


def run(**changes: float) -> dict[str, float]:
    """A run that just meets every target."""
    return {
        "ray_max_rps": MAX_RPS,
        "ray_max_p99_ms": MAX_P99_MS - 0.1,
        "ray_steady_p99_ms": STEADY_P99_MS - 0.1,
        "ray_batch_txn_s": BATCH_TXN_S,
        "ray_max_success": 1.0,
        "ray_steady_success": 1.0,
        "ray_batch_success": 1.0,
    } | changes


def test_a_run_at_the_bounds_meets_every_target() -> None:
    assert [met for _, _, met in serving_targets(run())] == [True, True, True]


@pytest.mark.parametrize(
    ("changes", "missed"),
    [
        ({"ray_max_rps": MAX_RPS - 1}, 0),
        ({"ray_max_p99_ms": MAX_P99_MS}, 0),
        ({"ray_max_success": 0.999}, 0),
        ({"ray_steady_p99_ms": STEADY_P99_MS}, 1),
        ({"ray_steady_success": 0.99}, 1),
        ({"ray_batch_txn_s": BATCH_TXN_S - 1}, 2),
        ({"ray_batch_success": 0.5}, 2),
    ],
)
def test_each_target_is_missed_alone(changes: dict[str, float], missed: int) -> None:
    verdicts = [met for _, _, met in serving_targets(run(**changes))]
    assert verdicts == [i != missed for i in range(3)]


def test_the_measured_column_shows_the_run() -> None:
    (single, steady, batch) = serving_targets(run(ray_batch_txn_s=9_876.4))
    assert "1,500 req/s" in single[1] and "9,876 txn/s" in batch[1]
    assert f"{STEADY_P99_MS - 0.1:.1f} ms" in steady[1]
