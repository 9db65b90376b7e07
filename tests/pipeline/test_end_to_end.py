"""The whole batch pipeline through its commands, as `dvc repro` runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from fraudlake.settings import get_settings
from fraudlake.training.alias_log import JsonlAliasLog
from tests.pipeline.conftest import Project, make_project, small_params

STAGES = ["simulate", "ingest", "validate", "features", "train", "register", "drift"]


def _run_pipeline(project: Project) -> dict[str, object]:
    for stage in STAGES:
        project.ok(stage)
    verdict: dict[str, object] = json.loads(
        (project.root / "reports" / "drift" / "verdict.json").read_text()
    )
    return verdict


def test_pipeline_registers_a_champion_and_traces_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path / "home"))
    # 49 days: the 28-day windows behind a 7-day label lag are full in both drift windows
    project = make_project(tmp_path / "project", small_params(days=49))
    verdict = _run_pipeline(project)
    assert verdict["verdict"] != "retrain"  # no drift knob: the world is stationary
    reports = project.root / "reports"
    assert (reports / "drift" / "data_drift.html").stat().st_size > 10_000
    assert (reports / "drift" / "classification.html").exists()  # champion + labels

    candidates = json.loads((reports / "train" / "candidates.json").read_text())
    assert {c["family"] for c in candidates["candidates"]} == {"lightgbm", "xgboost"}
    lineage = candidates["lineage"]
    assert lineage["snapshot.features.transactions"] == str(
        candidates["snapshot_ids"]["features.transactions"]
    )
    assert "git_commit" in lineage

    decision = json.loads((reports / "registry" / "decision.json").read_text())
    assert decision["gate"]["promoted"] and decision["champion_version"] == 1

    # The registered version's model card: in the reports and in its MLflow run.
    card = (reports / "registry" / "model_card.html").read_text()
    assert "fraud-detector version 1" in card and "<td>segment</td>" in card
    assert "<td>region</td>" in card and "data:image/png;base64," in card
    uri = get_settings().resolved_mlflow_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version("fraud-detector", "1")
    run_id = decision["registered"]["run_id"]
    assert version.tags["fraudlake.model_card"] == f"runs:/{run_id}/model_card.html"
    assert "model_card.html" in {a.path for a in client.list_artifacts(run_id)}

    summary = project.ok("summary").output
    assert "champion: fraud-detector v1" in summary and "roc_auc" in summary

    # A second training run is gated against the champion on the same hold-out.
    project.ok("train")
    second = project.ok("register").output
    assert "fraud-detector v2" in second
    decision = json.loads((reports / "registry" / "decision.json").read_text())
    assert decision["gate"]["champion_version"] == 1
    assert decision["gate"]["champion_metrics"] is not None
    expected_champion = 2 if decision["gate"]["promoted"] else 1
    assert decision["champion_version"] == expected_champion

    # Every alias move is in the audit log, and rollback walks it back.
    log = JsonlAliasLog(Path(decision["alias_log"]))
    actions = [(e.alias, e.action, e.to_version) for e in log.entries()]
    assert actions[:3] == [
        ("challenger", "register", 1),
        ("champion", "promote", 1),
        ("challenger", "register", 2),
    ]
    if decision["gate"]["promoted"]:
        project.ok("model", "rollback", "--reason", "test rollback")
        assert "v1" in project.ok("model", "list").output
    else:
        assert project.run("model", "rollback", "--reason", "x").exit_code == 1
    assert "register" in project.ok("model", "history").output


def test_drift_knob_turns_the_verdict_to_retrain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path / "home"))
    params = small_params(days=49)
    # drift from day 42 on: the whole current window (the last 7 days) has drifted
    params["simulate"]["drift"].update({"enabled": True, "start_day": 42})
    project = make_project(tmp_path / "project", params)
    verdict = _run_pipeline(project)
    assert verdict["verdict"] == "retrain"
    assert "amount" in verdict["drifted_features"]
