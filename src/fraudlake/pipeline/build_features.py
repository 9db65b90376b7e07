"""Stage ``features``: point-in-time features of every transaction into the lake."""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import asdict, dataclass

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import load_feature_set
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.conform import conform
from fraudlake.lake.snapshot_properties import (
    FEATURES_PROPERTY,
    SOURCE_PREFIX,
    commit_properties,
)
from fraudlake.lake.snapshots import current_snapshot_ids, read_table
from fraudlake.lake.tables import ensure_table, features_spec
from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.settings import Settings

log = logging.getLogger(__name__)

SOURCES = ["raw.transactions", "raw.customers", "raw.labels"]


@dataclass(frozen=True)
class FeaturesResult:
    rows: int
    features: list[str]
    snapshot_id: int
    sources: dict[str, int | None]
    seconds: float


def run_features(params: Params, settings: Settings, layout: Layout) -> FeaturesResult:
    """Recompute ``features.transactions`` from the current raw tables in one commit.

    The snapshot summary names the raw snapshots it was computed from, so any feature
    row traces back to the exact data behind it.
    """
    feature_set = load_feature_set(layout.root / params.features.defs_dir)
    catalog = open_catalog(settings)
    sources = current_snapshot_ids(catalog, SOURCES)
    empty = [name for name, snap in sources.items() if snap is None and name != "raw.labels"]
    if empty:
        raise RuntimeError(f"{empty} empty or missing: run the ingest and validate stages first")
    started = time.perf_counter()
    data = compute_features(
        read_table(catalog, "raw.transactions", sources["raw.transactions"]),
        read_table(catalog, "raw.customers", sources["raw.customers"]),
        read_table(catalog, "raw.labels", sources["raw.labels"]),
        feature_set,
    )
    seconds = time.perf_counter() - started
    table = ensure_table(catalog, features_spec(feature_set))
    summary = commit_properties({f"{SOURCE_PREFIX}{k}": str(v) for k, v in sources.items()})
    summary[FEATURES_PROPERTY] = ",".join(feature_set.names)
    with warnings.catch_warnings():
        # the first overwrite of an empty table has nothing to delete; pyiceberg warns
        warnings.filterwarnings("ignore", "Delete operation did not match any records")
        table.overwrite(
            conform(data, table.schema().as_arrow(), "features.transactions"),
            snapshot_properties=summary,
        )
    snap = table.current_snapshot()
    assert snap is not None
    result = FeaturesResult(data.num_rows, feature_set.names, snap.snapshot_id, sources, seconds)
    out = layout.report_dir("features") / "snapshot.json"
    out.write_text(json.dumps(asdict(result), indent=2))
    log.info(
        "features.transactions: %d rows x %d features in %.1fs, snapshot %d (%s)",
        result.rows,
        len(result.features),
        seconds,
        result.snapshot_id,
        out,
    )
    return result
