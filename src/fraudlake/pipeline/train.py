"""Stage ``train``: fit every candidate family on the lake's features, log to MLflow."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fraudlake.lake.catalog import open_catalog
from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.pipeline.lineage import lineage_tags
from fraudlake.pipeline.training_set import load_training_set
from fraudlake.settings import Settings
from fraudlake.training.train import CandidateResult, train_candidates

log = logging.getLogger(__name__)

CANDIDATES_FILE = "candidates.json"


def run_train(params: Params, settings: Settings, layout: Layout) -> list[CandidateResult]:
    """Train LightGBM and XGBoost on the current ``features.transactions`` snapshot.

    Writes ``reports/train/candidates.json`` (each candidate's run, model URI, windows and
    metrics, plus the snapshot ids read, which the register and drift stages reuse to
    rebuild the same hold-out) and ``reports/train/metrics.json`` (DVC metrics).
    """
    catalog = open_catalog(settings)
    training = load_training_set(catalog)
    lineage = lineage_tags(layout.root, training.snapshot_ids)
    out_dir = layout.report_dir("train")
    results = train_candidates(
        training.frame,
        training.feature_columns,
        params.train,
        params.decision,
        tracking_uri=settings.resolved_mlflow_uri,
        experiment=settings.mlflow_experiment,
        lineage=lineage,
        out_dir=out_dir,
    )
    write_candidates(out_dir / CANDIDATES_FILE, results, training.snapshot_ids, lineage)
    return results


def write_candidates(
    path: Path,
    results: list[CandidateResult],
    snapshot_ids: dict[str, int | None],
    lineage: dict[str, str],
) -> None:
    payload: dict[str, Any] = {
        "snapshot_ids": {k: v for k, v in snapshot_ids.items()},
        "lineage": lineage,
        "candidates": [r.summary() for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    log.info("candidates → %s", path)


def read_candidates(path: Path) -> dict[str, Any]:
    """The ``candidates.json`` of the train stage; says what to run when it is missing."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `fraudlake train` first")
    data: dict[str, Any] = json.loads(path.read_text())
    return data
