"""Stage ``ingest``: land raw batches in staging, card numbers pseudonymised.

Nothing reaches the lake here: staged batches wait for the ``validate`` gate. Staging is
rewritten from scratch each run so it mirrors ``data/raw`` exactly.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass

import pyarrow.parquet as pq

from fraudlake.pipeline.layout import Layout, batch_files
from fraudlake.privacy import pseudonymise_transactions
from fraudlake.progress import track
from fraudlake.schemas import RAW_BATCHES
from fraudlake.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    batches: int
    rows: int


def run_ingest(settings: Settings, layout: Layout) -> IngestResult:
    """Copy every raw batch to staging, replacing ``card_number`` by its HMAC ``card_id``."""
    batches = batch_files(layout.raw, tuple(RAW_BATCHES))
    if not batches:
        raise FileNotFoundError(f"no raw batches under {layout.raw}: run `fraudlake simulate`")
    if layout.staging.exists():
        shutil.rmtree(layout.staging)
    key = settings.hmac_key_bytes()
    rows = 0
    for batch in track(batches, "staging raw batches"):
        table = pseudonymise_transactions(pq.read_table(batch.path), key)
        target = layout.staging / batch.kind / batch.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)
        rows += table.num_rows
    log.info("staged %d batches (%d rows) in %s", len(batches), rows, layout.staging)
    return IngestResult(len(batches), rows)
