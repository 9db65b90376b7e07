"""Stage ``drift``: Evidently reports between the end of training and the newest days.

The monitoring run (:mod:`fraudlake.pipeline.monitor`) makes the same reports into its own
folder: both call :func:`load_scored_features` and :func:`drift_report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


@dataclass(frozen=True)
class ScoredFeatures:
    """The lake's current training set, scored by the champion when it can.

    ``frame`` carries a :data:`SCORE` column exactly when ``unscored`` is ``None``;
    otherwise ``unscored`` says why not (no champion, or a champion that predates the
    current feature definitions). ``champion_version`` is the version that scored, or was
    asked to.
    """

    frame: pd.DataFrame
    feature_columns: list[str]
    snapshot_ids: dict[str, int | None]
    champion_version: int | None
    unscored: str | None

    @property
    def scored(self) -> bool:
        """True when ``frame`` holds the champion's scores."""
        return self.unscored is None


def load_scored_features(params: Params, settings: Settings) -> ScoredFeatures:
    """The current training set (features + labels known so far) with the champion's scores.

    Without a champion, or with one that cannot score the current features, the frame is
    returned unscored (logged as a warning), never an error: drift does not need scores.
    Raises what :func:`load_training_set` raises when the lake has no features yet.
    """
    training = load_training_set(open_catalog(settings))
    registry = open_registry(params, settings)
    version = registry.champion_version()

    def unscored(why: str) -> ScoredFeatures:
        return ScoredFeatures(
            training.frame, training.feature_columns, training.snapshot_ids, version, why
        )

    if version is None:
        log.warning("no champion yet: drift without a classification report")
        return unscored("no champion")
    try:
        # by version, not alias: the scores must belong to the version that is recorded
        scores = predict_proba(registry.load(version), training.frame)
    except KeyError as exc:  # the champion predates the current feature definitions
        log.warning("champion cannot score the current features (%s): no classification", exc)
        return unscored(f"champion v{version} cannot score the current features ({exc})")
    return ScoredFeatures(
        training.frame.assign(**{SCORE: scores}),
        training.feature_columns,
        training.snapshot_ids,
        version,
        None,
    )


def drift_report(params: Params, scored: ScoredFeatures, out_dir: Path) -> DriftVerdict:
    """Compare the last ``drift.current_days`` of ``scored`` with the
    ``drift.reference_days`` just before them; with scores, add a classification report.

    Writes ``{data_drift,classification}.{html,json}`` and ``verdict.json`` into ``out_dir``
    and returns the verdict. Raises :class:`~fraudlake.monitoring.WindowError` when a window
    has no rows.
    """
    verdict = monitor_drift(
        scored.frame,
        scored.feature_columns,
        params.drift,
        out_dir,
        target=TARGET if scored.scored else None,
        prediction=SCORE if scored.scored else None,
        max_rows=params.drift.max_rows,
    )
    log.info(
        "drift: %s — %d of %d features drifted (%.0f%%); reports in %s",
        verdict.verdict,
        verdict.n_drifted,
        verdict.n_features,
        100 * verdict.share_drifted,
        out_dir,
    )
    return verdict


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
    return drift_report(params, load_scored_features(params, settings), layout.report_dir("drift"))
