"""Stage ``register``: the best candidate becomes ``challenger``; the gate may promote it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from fraudlake.lake.catalog import open_catalog
from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.pipeline.train import CANDIDATES_FILE, read_candidates
from fraudlake.pipeline.training_set import load_training_set
from fraudlake.settings import Settings
from fraudlake.training.alias_log import JsonlAliasLog
from fraudlake.training.model_card import ModelCard, group_rates, render_html
from fraudlake.training.models import feature_names, predict_proba
from fraudlake.training.registry import GateDecision, RegisteredVersion, Registry
from fraudlake.training.split import DateWindow, Split, split_train_test
from fraudlake.training.train import CandidateResult

log = logging.getLogger(__name__)

DECISION_FILE = "decision.json"
MODEL_CARD_FILE = "model_card.html"


def open_registry(params: Params, settings: Settings, actor: str | None = None) -> Registry:
    """The registry of ``params.registry.model_name`` with the settings' alias log."""
    return Registry(
        settings.resolved_mlflow_uri,
        params.registry,
        JsonlAliasLog(settings.resolved_alias_log),
        actor=actor,
    )


def candidate_from_summary(data: dict[str, Any]) -> CandidateResult:
    """A :class:`CandidateResult` rebuilt from its ``summary()`` (without predictions)."""

    def window(w: dict[str, str]) -> DateWindow:
        return DateWindow(dt.date.fromisoformat(w["start"]), dt.date.fromisoformat(w["end"]))

    return CandidateResult(
        family=data["family"],
        run_id=data["run_id"],
        experiment_id=data["experiment_id"],
        model_id=data["model_id"],
        model_uri=data["model_uri"],
        metrics={k: (math.nan if v is None else float(v)) for k, v in data["metrics"].items()},
        card_precision_per_day={
            k: (math.nan if v is None else float(v))
            for k, v in data["card_precision_per_day"].items()
        },
        train_window=window(data["train_window"]),
        test_window=window(data["test_window"]),
        predictions=pd.DataFrame(),
    )


def write_model_card(
    registry: Registry,
    registered: RegisteredVersion,
    split: Split,
    params: Params,
    lineage: dict[str, str],
    *,
    features: list[str],
    scores: np.ndarray,
) -> str:
    """The version's model card (HTML) from its ``scores`` of the hold-out it was tested
    on (``split.test``, row for row); logged as ``model_card.html`` in its MLflow run and
    named in a version tag."""
    scored = split.test.assign(score=scores)
    card = ModelCard(
        model_name=registered.model_name,
        version=registered.version,
        family=registered.family,
        run_id=registered.run_id,
        train_window=str(split.train_window),
        test_window=str(split.test_window),
        features=features,
        metrics=registered.metrics,
        thresholds=params.decision,
        rates=group_rates(scored, params.decision),
        lineage=lineage,
    )
    page = render_html(card)
    registry.client.log_text(registered.run_id, page, MODEL_CARD_FILE)
    registry.client.set_model_version_tag(
        registered.model_name,
        str(registered.version),
        "fraudlake.model_card",
        f"runs:/{registered.run_id}/{MODEL_CARD_FILE}",
    )
    return page


def run_register(
    params: Params, settings: Settings, layout: Layout
) -> tuple[RegisteredVersion, GateDecision]:
    """Register the best candidate of the last training run, then gate it against the
    champion on the very hold-out it was tested on (rebuilt from the recorded snapshots).
    Writes ``reports/registry/decision.json``."""
    trained = read_candidates(layout.report_dir("train") / CANDIDATES_FILE)
    candidates = [candidate_from_summary(c) for c in trained["candidates"]]
    registry = open_registry(params, settings)
    registered = registry.register_best(candidates)

    training = load_training_set(open_catalog(settings), trained["snapshot_ids"])
    split = split_train_test(training.frame, params.train)
    # Scored once: the gate's metrics and the model card read the same scores.
    model = registry.load(registered.version)
    scores = predict_proba(model, split.test)
    decision = registry.gate(
        split.test,
        params.decision,
        challenger_version=registered.version,
        challenger_scores=scores,
    )
    out = layout.report_dir("registry") / DECISION_FILE
    payload = {
        "registered": {
            "model_name": registered.model_name,
            "version": registered.version,
            "family": registered.family,
            "run_id": registered.run_id,
            "model_uri": registered.model_uri,
        },
        "gate": json.loads(decision.model_dump_json()),
        "champion_version": registry.champion_version(),
        "alias_log": str(settings.resolved_alias_log),
    }
    out.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    card = write_model_card(
        registry,
        registered,
        split,
        params,
        trained.get("lineage", {}),
        features=feature_names(model),
        scores=scores,
    )
    card_path = layout.report_dir("registry") / MODEL_CARD_FILE
    card_path.write_text(card)
    log.info("model card of v%d: %s (and in its MLflow run)", registered.version, card_path)
    log.info(
        "%s v%d (%s): %s — %s (%s)",
        registered.model_name,
        registered.version,
        registered.family,
        "promoted to champion" if decision.promoted else "stays challenger",
        decision.reason,
        out,
    )
    return registered, decision
