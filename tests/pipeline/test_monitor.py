"""Monitoring on small projects built through the real commands (embedded lake and MLflow).

Two 49-day worlds are built once for this module — stationary, and with the drift knob on
from day 42 — up to a registered champion (the stationary one also runs the ``drift``
stage, whose output monitoring must leave alone). Each test then runs the monitoring.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fraudlake.monitoring.performance import PerformanceVerdict
from fraudlake.monitoring.verdict import DriftVerdict
from fraudlake.params import load_params
from fraudlake.pipeline.layout import Layout
from fraudlake.pipeline.monitor import (
    NO_RETRAINING,
    TRIGGER_RETRAINING,
    branch_for,
    monitor_for_airflow,
    run_monitoring,
    settings_for,
)
from fraudlake.settings import Settings, get_settings
from tests.pipeline.conftest import Project, make_project, small_params

BUILD = ["simulate", "ingest", "validate", "features", "train", "register"]


@dataclass(frozen=True)
class Built:
    project: Project
    home: Path

    @property
    def root(self) -> Path:
        return self.project.root


def build(
    factory: pytest.TempPathFactory, name: str, params: dict[str, Any], *stages: str
) -> Built:
    """A project run through ``stages`` with its own state home (lake, MLflow, alias log)."""
    base = factory.mktemp(name)
    home = base / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAUDLAKE_HOME", str(home))
        project = make_project(base / "project", params)
        for stage in stages:
            project.ok(stage)
    return Built(project, home)


@pytest.fixture(scope="module")
def stationary(tmp_path_factory: pytest.TempPathFactory) -> Built:
    # 49 days: the 28-day windows behind the label lag are full in both drift windows
    return build(tmp_path_factory, "stationary", small_params(days=49), *BUILD, "drift")


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Built:
    params = small_params(days=49)
    params["simulate"]["drift"].update({"enabled": True, "start_day": 42})
    return build(tmp_path_factory, "drifted", params, *BUILD)


@pytest.fixture
def home_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point ``FRAUDLAKE_HOME`` at a built project's state for this test."""

    def use(built: Built) -> Settings:
        monkeypatch.setenv("FRAUDLAKE_HOME", str(built.home))
        return get_settings()

    yield use


def fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    """``{relative path: (mtime_ns, sha256)}`` of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_stationary_world_writes_the_reports_and_does_not_retrain(
    stationary: Built, home_of: Any
) -> None:
    settings = home_of(stationary)
    root = stationary.root
    drift_before = fingerprint(root / "reports" / "drift")
    assert "verdict.json" in drift_before

    outcome = run_monitoring(load_params(root / "params.yaml"), settings, Layout(root))

    assert fingerprint(root / "reports" / "drift") == drift_before  # the DVC output stays
    out = root / "reports" / "monitoring"
    assert outcome.verdict_json == out / "verdict.json"
    assert (out / "drift" / "data_drift.html").stat().st_size > 10_000
    assert (out / "drift" / "classification.html").exists()  # the champion scored
    assert (out / "performance.html").stat().st_size > 10_000

    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["verdict"] == outcome.verdict != "retrain"
    assert verdict["champion_version"] == 1
    assert [r.split(" ")[0] for r in verdict["reasons"]] == ["drift", "performance"]
    assert DriftVerdict.model_validate(verdict["drift"]) == DriftVerdict.read(
        out / "drift" / "verdict.json"
    )
    performance = PerformanceVerdict.read(out / "performance.json")
    assert PerformanceVerdict.model_validate(verdict["performance"]) == performance

    # Right after training, the newest matured week is the champion's own hold-out, so the
    # metrics measured now repeat those recorded at registration: the protocol matches.
    candidates = json.loads((root / "reports" / "train" / "candidates.json").read_text())
    test_window = candidates["candidates"][0]["test_window"]
    assert performance.window is not None
    assert performance.window.start.date().isoformat() == test_window["start"]
    assert performance.window.end.date().isoformat() == test_window["end"]
    assert performance.verdict == "ok" and performance.champion_version == 1
    assert performance.drop == pytest.approx(0.0, abs=1e-9)
    assert performance.current_metrics["roc_auc"] == pytest.approx(
        performance.baseline_metrics["roc_auc"]
    )
    assert performance.n_fraud > 0
    assert branch_for(outcome.verdict) == NO_RETRAINING


def test_drift_knob_makes_the_monitor_ask_for_retraining(
    drifted: Built, home_of: Any, tmp_path: Path
) -> None:
    home_of(drifted)
    # through the Airflow entry point, in a fresh folder with the project's params.yaml
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(drifted.root / "params.yaml", root / "params.yaml")
    summary = monitor_for_airflow(root)

    assert summary["verdict"] == "retrain" and summary["drift"] == "retrain"
    assert summary["champion_version"] == 1
    assert branch_for(summary["verdict"]) == TRIGGER_RETRAINING
    verdict_json = Path(summary["verdict_json"])
    assert verdict_json == root / "reports" / "monitoring" / "verdict.json"
    verdict = json.loads(verdict_json.read_text())
    assert verdict["verdict"] == "retrain"
    assert "amount" in verdict["drift"]["drifted_features"]
    assert any(r.startswith("drift retrain") for r in verdict["reasons"])
    assert (root / "reports" / "monitoring" / "performance.json").exists()
    assert not (root / "reports" / "drift").exists()  # monitoring never writes the stage's


def test_without_a_champion_drift_still_runs(stationary: Built, tmp_path: Path) -> None:
    # the same lake, but an empty model registry
    settings = Settings(
        home=stationary.home,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'empty-mlflow.db'}",
        alias_log=tmp_path / "alias.jsonl",
    )
    root = tmp_path / "project"
    outcome = run_monitoring(load_params(stationary.root / "params.yaml"), settings, Layout(root))
    out = root / "reports" / "monitoring"
    assert outcome.performance.verdict == "investigate"
    assert outcome.performance.reason == "no champion"
    assert outcome.champion_version is None
    assert outcome.verdict in ("investigate", "retrain")  # at least the performance part
    assert (out / "drift" / "data_drift.html").exists()
    assert not (out / "drift" / "classification.html").exists()
    assert not (out / "performance.html").exists()
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["performance"]["reason"] == "no champion"
    assert verdict["reports"]["performance.html"] is None


def test_settings_for_resolves_state_against_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUDLAKE_HOME", raising=False)
    monkeypatch.delenv("FRAUDLAKE_ALIAS_LOG", raising=False)
    monkeypatch.delenv("FRAUDLAKE_WAREHOUSE", raising=False)
    monkeypatch.chdir(tmp_path)  # Airflow's working directory is not the project
    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text("FRAUDLAKE_ALIAS_LOG=state/alias.jsonl\n")
    settings = settings_for(root)
    assert settings.home == root / ".fraudlake"
    assert settings.alias_log == root / "state" / "alias.jsonl"

    monkeypatch.setenv("FRAUDLAKE_HOME", "/srv/fraudlake")
    monkeypatch.setenv("FRAUDLAKE_WAREHOUSE", "s3://lake/warehouse")
    settings = settings_for(root)
    assert settings.home == Path("/srv/fraudlake")
    assert settings.warehouse == "s3://lake/warehouse"
