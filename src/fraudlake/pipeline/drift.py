"""Stage ``drift``: Evidently reports between the end of training and the newest days."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from fraudlake.lake.catalog import open_catalog
from fraudlake.monitoring import DriftVerdict, monitor_drift
from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.pipeline.register import open_registry
from fraudlake.pipeline.train import CANDIDATES_FILE, read_candidates
from fraudlake.pipeline.training_set import load_training_set
from fraudlake.settings import Settings
from fraudlake.training.models import predict_proba

log = logging.getLogger(__name__)

SCORE = "score"
TARGET = "is_fraud"


def run_drift_stage(params: Params, settings: Settings, layout: Layout) -> DriftVerdict:
    """Compare the last ``drift.reference_days`` of the training window (what the model
    learnt from) with the last ``drift.current_days`` of the lake's features.

    With a champion, its scores and the labels known so far also give a classification
    report. Writes ``reports/drift/{data_drift,classification}.{html,json}`` and
    ``verdict.json``; returns the verdict.
    """
    trained = read_candidates(layout.report_dir("train") / CANDIDATES_FILE)
    train_end = dt.date.fromisoformat(trained["candidates"][0]["train_window"]["end"])
    reference = (
        train_end - dt.timedelta(days=params.drift.reference_days),
        train_end,
    )
    training = load_training_set(open_catalog(settings))
    frame = training.frame
    target: str | None = None
    prediction: str | None = None
    registry = open_registry(params, settings)
    if registry.champion_version() is not None:
        frame = frame.copy()
        frame[SCORE] = predict_proba(registry.load("champion"), frame)
        target, prediction = TARGET, SCORE
    else:
        log.warning("no champion yet: drift without a classification report")
    verdict = monitor_drift(
        frame,
        training.feature_columns,
        params.drift,
        layout.report_dir("drift"),
        reference=(pd.Timestamp(reference[0], tz="UTC"), pd.Timestamp(reference[1], tz="UTC")),
        target=target,
        prediction=prediction,
        max_rows=params.drift.max_rows,
    )
    log.info(
        "drift: %s — %d of %d features drifted (%.0f%%); reports in %s",
        verdict.verdict,
        verdict.n_drifted,
        verdict.n_features,
        100 * verdict.share_drifted,
        layout.reports / "drift",
    )
    return verdict
