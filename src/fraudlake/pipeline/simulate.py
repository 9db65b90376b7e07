"""Stage ``simulate``: generate the raw daily batches under ``data/raw``."""

from __future__ import annotations

import logging
import time

from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.simulation import BatchManifest, simulate, write_batches

log = logging.getLogger(__name__)


def run_simulate(params: Params, layout: Layout) -> BatchManifest:
    """Simulate per ``params.simulate`` and write one Parquet file per kind and day."""
    started = time.perf_counter()
    sim = simulate(params.simulate)
    manifest = write_batches(sim, layout.raw)
    log.info(
        "simulated %d transactions (%s profile) in %.1fs → %s",
        sim.transactions.num_rows,
        params.simulate.profile,
        time.perf_counter() - started,
        layout.raw,
    )
    return manifest
