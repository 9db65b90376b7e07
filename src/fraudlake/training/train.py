"""Train every candidate model family, evaluate it on the time-ordered hold-out and log
one MLflow run per candidate.

Each run records:

- **params**: the model's exact hyper-parameters, the split (mode, windows, days, the
  known-compromised protocol), the decision thresholds, ``top_k`` and the feature count;
- **metrics** (also linked to the logged model): everything :func:`~fraudlake.training.
  metrics.evaluate` returns — ``roc_auc``, ``average_precision``,
  ``card_precision_at_<k>``, precision / recall / fpr / alert rate at the review and
  decline thresholds — plus ``train_rows``, ``test_rows``, ``train_fraud_rate``,
  ``test_fraud_rate``, ``test_removed_known_compromised_rows``, ``fit_seconds``, and
  ``card_precision_at_<k>_daily`` with one step per test day;
- **model**: the native booster (``mlflow.lightgbm`` / ``mlflow.xgboost`` flavour) with a
  signature and a small input example, under the artifact name ``model``;
- **artifacts**: ``feature_importance.csv`` / ``.json``, ``features.json``,
  ``lineage.json``, ``card_precision_per_day.json``, ``metrics.json`` and
  ``plots/{pr_curve,roc_curve,score_distribution,feature_importance}.png``;
- **tags**: ``lineage.<key>`` for every lineage entry (git commit, ``dvc.lock`` hashes,
  Iceberg snapshot ids — whatever the caller passes), ``fraudlake.family``,
  ``fraudlake.train_window``, ``fraudlake.test_window``.

The split is deterministic: calling :func:`~fraudlake.training.split.split_train_test`
again with the same frame and parameters rebuilds the exact test set, which is how the
promotion gate scores challenger and champion on the same hold-out.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from fraudlake.params import DecisionParams, TrainParams
from fraudlake.progress import track
from fraudlake.settings import get_settings
from fraudlake.training.metrics import card_precision_top_k, evaluate
from fraudlake.training.models import (
    FAMILIES,
    ModelFamily,
    NativeModel,
    feature_importance,
    fit,
    hyperparameters,
    positive_weight,
    predict_proba,
)
from fraudlake.training.split import DateWindow, Split, split_train_test
from fraudlake.training.tracking import (
    ensure_experiment,
    is_remote,
    lineage_tags,
    log_native_model,
    use_mlflow,
)

log = logging.getLogger(__name__)

LABEL = "is_fraud"
#: Identifying and slicing columns copied into the predictions frame when present.
PREDICTION_ID_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "event_ts",
    "card_id",
    "customer_id",
    "terminal_id",
    "segment",
    "region",
)
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class CandidateResult:
    """One trained, evaluated and logged candidate.

    ``model_uri`` is the logged model (``models:/<model_id>``), what the registry registers.
    ``predictions`` are the test-set scores: the columns of :data:`PREDICTION_ID_COLUMNS`
    present in the input, ``is_fraud`` and ``score``.
    """

    family: ModelFamily
    run_id: str
    experiment_id: str
    model_id: str
    model_uri: str
    metrics: dict[str, float]
    card_precision_per_day: dict[str, float]
    train_window: DateWindow
    test_window: DateWindow
    predictions: pd.DataFrame = field(repr=False, compare=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description without the predictions (non-finite metrics → None)."""
        return {
            "family": self.family,
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "model_id": self.model_id,
            "model_uri": self.model_uri,
            "train_window": {
                "start": str(self.train_window.start),
                "end": str(self.train_window.end),
            },
            "test_window": {"start": str(self.test_window.start), "end": str(self.test_window.end)},
            "metrics": json_safe(self.metrics),
            "card_precision_per_day": json_safe(self.card_precision_per_day),
        }


def json_safe(values: Mapping[str, float]) -> dict[str, float | None]:
    """``values`` with NaN / infinities replaced by ``None`` (strict JSON has neither)."""
    return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in values.items()}


def check_frame(frame: pd.DataFrame, feature_columns: Sequence[str]) -> None:
    """Raise ``ValueError`` naming what is wrong when ``frame`` cannot be trained on:
    no features, missing or non-numeric feature columns, a label that is not 0/1."""
    if not feature_columns:
        raise ValueError("no feature columns given")
    missing = [c for c in (*feature_columns, LABEL) if c not in frame.columns]
    if missing:
        raise ValueError(f"training frame lacks column(s): {', '.join(missing)}")
    not_numeric = [c for c in feature_columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if not_numeric:
        raise ValueError(f"feature column(s) not numeric: {', '.join(not_numeric)}")
    labels = set(pd.unique(frame[LABEL].astype(int)))
    if not labels <= {0, 1}:
        raise ValueError(f"{LABEL} must be 0/1, found {sorted(labels)}")


def prediction_frame(test: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """Identifying columns of ``test``, its label and ``score`` — one row per test row."""
    cols = [c for c in PREDICTION_ID_COLUMNS if c in test.columns]
    out = test[cols].reset_index(drop=True).copy()
    out[LABEL] = test[LABEL].astype(int).to_numpy()
    out["score"] = scores
    return out


def data_metrics(split: Split) -> dict[str, float]:
    """Row counts and fraud rates of the two sets, and the rows the protocol removed."""
    return {
        "train_rows": float(len(split.train)),
        "test_rows": float(len(split.test)),
        "train_fraud_rate": float(split.train[LABEL].astype(int).mean()),
        "test_fraud_rate": float(split.test[LABEL].astype(int).mean()),
        "test_removed_known_compromised_rows": float(split.removed_rows),
    }


def split_params(
    split: Split, params: TrainParams, decision: DecisionParams, drop_known_compromised: bool
) -> dict[str, Any]:
    """The split and decision settings as MLflow params."""
    return {
        "split_mode": "explicit" if params.train_start is not None else "relative",
        "train_start": str(split.train_window.start),
        "train_end": str(split.train_window.end),
        "test_start": str(split.test_window.start),
        "test_end": str(split.test_window.end),
        "train_days": params.train_days,
        "gap_days": split.gap_days,
        "test_days": params.test_days,
        "drop_known_compromised": drop_known_compromised,
        "seed": params.seed,
        "review_threshold": decision.review_threshold,
        "decline_threshold": decision.decline_threshold,
    }


def _write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def _write_artifacts(
    folder: Path,
    *,
    family: ModelFamily,
    model: NativeModel,
    predictions: pd.DataFrame,
    metrics: Mapping[str, float],
    per_day: Mapping[str, float],
    feature_columns: Sequence[str],
    lineage: Mapping[str, str],
    decision: DecisionParams,
) -> None:
    importance = feature_importance(model)
    importance.to_csv(folder / "feature_importance.csv", index=False)
    _write_json(folder / "feature_importance.json", importance.to_dict(orient="records"))
    _write_json(folder / "features.json", list(feature_columns))
    _write_json(folder / "lineage.json", dict(lineage))
    _write_json(folder / "card_precision_per_day.json", json_safe(per_day))
    _write_json(folder / METRICS_FILE, json_safe(metrics))

    # here, not at the top: matplotlib costs every importer of this module (the scoring
    # replicas, through the registry) over a second
    from fraudlake.training import plots

    y = predictions[LABEL].to_numpy()
    s = predictions["score"].to_numpy()
    figures = {
        "feature_importance": plots.feature_importance_chart(
            importance, f"{family}: feature importance"
        ),
        "score_distribution": plots.score_distribution(y, s, f"{family}: test scores", decision),
    }
    if 0 < y.sum() < y.size:  # both classes: the curves are defined
        figures["pr_curve"] = plots.pr_curve(
            y, s, f"{family}: precision-recall (test)", metrics["average_precision"]
        )
        figures["roc_curve"] = plots.roc(y, s, f"{family}: ROC (test)", metrics["roc_auc"])
    for name, fig in figures.items():
        plots.save_png(fig, folder / "plots" / f"{name}.png")


def _train_one(
    family: ModelFamily,
    split: Split,
    feature_columns: Sequence[str],
    params: TrainParams,
    decision: DecisionParams,
    *,
    experiment_id: str,
    lineage: Mapping[str, str],
    scale_pos_weight: float,
    drop_known_compromised: bool,
    top_k: int,
) -> CandidateResult:
    x_train = split.train[list(feature_columns)].astype("float64")
    y_train = split.train[LABEL].astype(int).to_numpy()
    started = time.perf_counter()
    model = fit(
        family, x_train, y_train, params.models, seed=params.seed, scale_pos_weight=scale_pos_weight
    )
    fit_seconds = time.perf_counter() - started

    predictions = prediction_frame(split.test, predict_proba(model, split.test))
    metrics = evaluate(predictions, decision, top_k=top_k)
    metrics.update(data_metrics(split))
    metrics["fit_seconds"] = fit_seconds
    cp = card_precision_top_k(predictions, top_k)
    per_day = {str(day): value for day, value in cp.per_day.items()}

    hyper = hyperparameters(
        family, params.models, seed=params.seed, scale_pos_weight=scale_pos_weight
    )
    run_params: dict[str, Any] = {
        **hyper,
        **split_params(split, params, decision, drop_known_compromised),
        "top_k": top_k,
        "n_features": len(feature_columns),
    }
    tags = {
        **lineage_tags(lineage),
        "fraudlake.family": family,
        "fraudlake.train_window": str(split.train_window),
        "fraudlake.test_window": str(split.test_window),
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{family} test {split.test_window}"
    ) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(run_params)
        info = log_native_model(model, split.train)
        mlflow.log_metrics(metrics, model_id=info.model_id)
        for step, (day, value) in enumerate(cp.per_day.items()):
            day_ms = int(pd.Timestamp(day, tz="UTC").timestamp() * 1000)
            mlflow.log_metric(
                f"card_precision_at_{top_k}_daily", value, step=step, timestamp=day_ms
            )
        with tempfile.TemporaryDirectory(prefix="fraudlake-run-") as tmp:
            _write_artifacts(
                Path(tmp),
                family=family,
                model=model,
                predictions=predictions,
                metrics=metrics,
                per_day=per_day,
                feature_columns=feature_columns,
                lineage=lineage,
                decision=decision,
            )
            mlflow.log_artifacts(tmp)
    log.info(
        "%s: average_precision=%.4f roc_auc=%.4f run=%s",
        family,
        metrics["average_precision"],
        metrics["roc_auc"],
        run.info.run_id,
    )
    return CandidateResult(
        family=family,
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        model_id=str(info.model_id),
        model_uri=info.model_uri,
        metrics=metrics,
        card_precision_per_day=per_day,
        train_window=split.train_window,
        test_window=split.test_window,
        predictions=predictions,
    )


def write_metrics_json(results: Sequence[CandidateResult], path: Path) -> Path:
    """``{family: {metric: value}}`` for DVC ``metrics:`` (strict JSON, NaN → null)."""
    return _write_json(path, {r.family: json_safe(r.metrics) for r in results})


def train_candidates(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    train: TrainParams,
    decision: DecisionParams,
    *,
    tracking_uri: str,
    experiment: str,
    lineage: Mapping[str, str],
    out_dir: Path,
    artifact_location: str | None = None,
    families: Sequence[ModelFamily] = FAMILIES,
    drop_known_compromised: bool = True,
    top_k: int = 100,
) -> list[CandidateResult]:
    """Split ``frame`` in time, fit each of ``families`` on the training set, evaluate it on
    the test set and log one MLflow run per candidate (see the module docstring).

    ``frame`` follows the training-set contract (``transaction_id``, ``event_ts``,
    ``card_id``, ``customer_id``, ``terminal_id``, the ``feature_columns`` as float64,
    ``is_fraud`` 0/1, ``label_reported_at``, ``segment``, ``region``). The experiment is
    created when missing, with ``artifact_location`` as artifact root — by default the
    settings' ``mlflow_artifact_root`` for a local store, the server's choice for a
    tracking server. ``lineage`` entries become ``lineage.*`` tags and ``lineage.json``.
    Writes ``out_dir/metrics.json`` (``{family: metrics}``) and returns the candidates in
    ``families`` order. Sets MLflow's process-wide URI to ``tracking_uri``.
    """
    check_frame(frame, feature_columns)
    if not families:
        raise ValueError("no model families to train")
    split = split_train_test(frame, train, drop_known_compromised=drop_known_compromised)
    log.info(
        "split: train %s (%d rows), test %s (%d rows, %d removed as known compromised)",
        split.train_window,
        len(split.train),
        split.test_window,
        len(split.test),
        split.removed_rows,
    )
    client = use_mlflow(tracking_uri)
    if artifact_location is None and not is_remote(tracking_uri):
        artifact_location = get_settings().mlflow_artifact_root
    experiment_id = ensure_experiment(client, experiment, artifact_location)
    scale_pos_weight = positive_weight(split.train[LABEL], train.imbalance)

    results = [
        _train_one(
            family,
            split,
            feature_columns,
            train,
            decision,
            experiment_id=experiment_id,
            lineage=lineage,
            scale_pos_weight=scale_pos_weight,
            drop_known_compromised=drop_known_compromised,
            top_k=top_k,
        )
        for family in track(list(families), "training candidates")
    ]
    write_metrics_json(results, Path(out_dir) / METRICS_FILE)
    return results
