"""train_candidates against a real SQLite MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from fraudlake.params import TrainParams
from fraudlake.training.models import predict_proba
from fraudlake.training.split import split_train_test
from fraudlake.training.tracking import load_native_model
from fraudlake.training.train import CandidateResult
from tests.training.conftest import LINEAGE

REQUIRED_METRICS = {
    "roc_auc",
    "average_precision",
    "card_precision_at_100",
    "precision_at_review",
    "recall_at_review",
    "fpr_at_review",
    "precision_at_decline",
    "recall_at_decline",
    "fpr_at_decline",
    "train_rows",
    "test_rows",
    "train_fraud_rate",
    "test_fraud_rate",
}


def test_one_run_per_family_with_metrics_and_params(
    candidates: tuple[list[CandidateResult], Path], mlflow_store: tuple[str, str]
) -> None:
    results, _ = candidates
    assert [r.family for r in results] == ["lightgbm", "xgboost"]
    client = MlflowClient(tracking_uri=mlflow_store[0])
    experiment = client.get_experiment_by_name("train-test")
    assert experiment is not None
    assert experiment.artifact_location == mlflow_store[1]
    for r in results:
        run = client.get_run(r.run_id)
        assert run.info.experiment_id == experiment.experiment_id
        assert set(run.data.metrics) >= REQUIRED_METRICS
        for key in REQUIRED_METRICS:
            assert run.data.metrics[key] == pytest.approx(r.metrics[key], nan_ok=True)
        assert r.metrics["roc_auc"] > 0.85
        assert r.metrics["average_precision"] > 0.3
        assert run.data.metrics["test_rows"] == len(r.predictions)
        assert run.data.params["n_estimators"] == "40"
        assert run.data.params["scale_pos_weight"] != "1.0"
        assert run.data.params["test_start"] == str(r.test_window.start)
        assert run.data.params["drop_known_compromised"] == "True"
        daily = client.get_metric_history(r.run_id, "card_precision_at_100_daily")
        assert len(daily) == 7
        assert np.mean([m.value for m in daily]) == pytest.approx(
            r.metrics["card_precision_at_100"]
        )


def test_lineage_tags_and_artifact(
    candidates: tuple[list[CandidateResult], Path], mlflow_store: tuple[str, str], tmp_path: Path
) -> None:
    results, _ = candidates
    client = MlflowClient(tracking_uri=mlflow_store[0])
    for r in results:
        tags = client.get_run(r.run_id).data.tags
        assert tags["lineage.git_commit"] == "0123abc-dirty"
        assert (
            tags["lineage.dvc.features:reports/features/snapshot.json"]
            == LINEAGE["dvc.features:reports/features/snapshot.json"]
        )
        assert tags["lineage.snapshot.features.transactions"] == "8273645512345"
        assert tags["lineage.odd key_with_chars"] == "kept in lineage.json"
        assert tags["fraudlake.family"] == r.family
        path = mlflow.artifacts.download_artifacts(
            run_id=r.run_id, artifact_path="lineage.json", dst_path=str(tmp_path / r.family)
        )
        assert json.loads(Path(path).read_text()) == LINEAGE


def test_artifacts_model_and_plots(
    candidates: tuple[list[CandidateResult], Path],
    mlflow_store: tuple[str, str],
    synthetic_frame: pd.DataFrame,
    feature_columns: list[str],
    train_params: TrainParams,
    tmp_path: Path,
) -> None:
    results, _ = candidates
    client = MlflowClient(tracking_uri=mlflow_store[0])
    test = split_train_test(synthetic_frame, train_params).test
    for r in results:
        listed = {a.path for a in client.list_artifacts(r.run_id)}
        assert {"feature_importance.csv", "feature_importance.json", "lineage.json"} <= listed
        plots = {a.path for a in client.list_artifacts(r.run_id, "plots")}
        expected = {"pr_curve", "roc_curve", "score_distribution", "feature_importance"}
        assert plots == {f"plots/{p}.png" for p in expected}
        local = Path(
            mlflow.artifacts.download_artifacts(
                run_id=r.run_id, artifact_path="plots", dst_path=str(tmp_path / r.family)
            )
        )
        for png in local.iterdir():
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        # the model: native flavour, signature, input example, linked to the run
        logged = client.get_logged_model(r.model_id)
        assert logged.source_run_id == r.run_id
        info = mlflow.models.get_model_info(r.model_uri)
        assert r.family in info.flavors
        assert info.signature is not None
        assert info.signature.inputs.input_names() == feature_columns
        assert info.saved_input_example_info is not None
        model = load_native_model(r.model_uri)
        np.testing.assert_allclose(
            predict_proba(model, test), r.predictions["score"].to_numpy(), rtol=1e-6
        )
        # metrics also attached to the logged model
        assert {m.key for m in logged.metrics or []} >= {"average_precision", "roc_auc"}


def test_predictions_and_metrics_json(candidates: tuple[list[CandidateResult], Path]) -> None:
    results, out_dir = candidates
    for r in results:
        p = r.predictions
        assert {"transaction_id", "card_id", "segment", "region", "is_fraud", "score"} <= set(p)
        assert p["event_ts"].min() >= r.test_window.start_ts
    written = json.loads((out_dir / "metrics.json").read_text())
    assert set(written) == {"lightgbm", "xgboost"}
    for r in results:
        assert written[r.family]["average_precision"] == pytest.approx(
            r.metrics["average_precision"]
        )
        assert json.dumps(r.summary(), allow_nan=False)
