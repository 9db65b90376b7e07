"""Stage ``drift``: Evidently reports between the end of training and the newest days."""

from __future__ import annotations

import logging

from fraudlake.lake.catalog import open_catalog
from fraudlake.monitoring import DriftVerdict, monitor_drift
from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.pipeline.register import open_registry
from fraudlake.pipeline.training_set import load_training_set
from fraudlake.settings import Settings
from fraudlake.training.models import predict_proba

log = logging.getLogger(__name__)

SCORE = "score"
TARGET = "is_fraud"


def run_drift_stage(params: Params, settings: Settings, layout: Layout) -> DriftVerdict:
    """Compare the last ``drift.current_days`` of the lake's features with the
    ``drift.reference_days`` just before them.

    The reference is the recent past rather than the training window: 28-day windows
    (and the 7-day label lag) need weeks of history to fill, so early training days
    would look drifted against any later period.

    With a champion, its scores and the labels known so far also give a classification
    report. Writes ``reports/drift/{data_drift,classification}.{html,json}`` and
    ``verdict.json``; returns the verdict.
    """
    training = load_training_set(open_catalog(settings))
    frame = training.frame
    target: str | None = None
    prediction: str | None = None
    registry = open_registry(params, settings)
    if registry.champion_version() is None:
        log.warning("no champion yet: drift without a classification report")
    else:
        try:
            scores = predict_proba(registry.load("champion"), frame)
        except KeyError as exc:  # the champion predates the current feature definitions
            log.warning("champion cannot score the current features (%s): no classification", exc)
        else:
            frame = frame.assign(**{SCORE: scores})
            target, prediction = TARGET, SCORE
    verdict = monitor_drift(
        frame,
        training.feature_columns,
        params.drift,
        layout.report_dir("drift"),
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
