"""The `fraud_monitoring` DAG, parsed by Airflow's own DagBag, and its branch decision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG
from airflow.serialization.serialized_objects import DagSerialization

from fraudlake.pipeline.monitor import (
    NO_RETRAINING,
    SEVERITY,
    TRIGGER_RETRAINING,
    branch_for,
    most_severe,
)

from .conftest import DAGS_FOLDER, ROOT

DAG_ID = "fraud_monitoring"
DAG_FILE = DAGS_FOLDER / "fraud_monitoring.py"


def parse(path: Path = DAG_FILE) -> DagBag:
    """Parse the DAG file as the DAG processor does."""
    return DagBag(dag_folder=path, safe_mode=False)


@pytest.fixture(scope="module")
def dag() -> DAG:
    bag = parse()
    assert bag.import_errors == {}
    assert bag.dag_ids == [DAG_ID]
    return bag.dags[DAG_ID]


def test_the_dags_folder_parses_with_it() -> None:
    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not {f: e for f, e in bag.import_errors.items() if f.endswith("fraud_monitoring.py")}
    assert DAG_ID in bag.dag_ids


def test_structure_monitor_decide_then_one_of_two_branches(dag: DAG) -> None:
    assert set(dag.task_dict) == {"monitor", "decide", TRIGGER_RETRAINING, NO_RETRAINING}
    graph = {tid: set(t.upstream_task_ids) for tid, t in dag.task_dict.items()}
    assert graph == {
        "monitor": set(),
        "decide": {"monitor"},
        TRIGGER_RETRAINING: {"decide"},
        NO_RETRAINING: {"decide"},
    }
    assert dag.task_dict["decide"].downstream_task_ids == {TRIGGER_RETRAINING, NO_RETRAINING}
    assert isinstance(dag.task_dict[NO_RETRAINING], EmptyOperator)


def test_trigger_retraining_targets_the_batch_pipeline(dag: DAG) -> None:
    trigger = dag.task_dict[TRIGGER_RETRAINING]
    assert isinstance(trigger, TriggerDagRunOperator)
    assert trigger.trigger_dag_id == "fraud_batch_pipeline"
    assert trigger.conf == {"overrides": {}}
    assert trigger.wait_for_completion is False
    assert trigger.note and "fraud_monitoring" in trigger.note
    assert trigger.retries == 0


def test_dag_settings(dag: DAG) -> None:
    assert dag.schedule == "@daily"  # once a day, at midnight UTC
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"fraudlake", "monitoring"} <= set(dag.tags)
    assert dag.doc_md and "reports/monitoring" in dag.doc_md


def test_dag_survives_serialization(dag: DAG) -> None:
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert {t.task_id: set(t.upstream_task_ids) for t in serialized.tasks} == {
        t.task_id: set(t.upstream_task_ids) for t in dag.tasks
    }


def test_project_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLAKE_PROJECT_ROOT", str(tmp_path))
    bag = parse()
    assert bag.import_errors == {}  # nothing of the project is read at parse time
    assert str(tmp_path) in (bag.dags[DAG_ID].doc_md or "")


def test_parsing_does_not_import_the_heavy_engines() -> None:
    """DAG files are parsed every few seconds under a timeout: no Evidently/MLflow there."""
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'evidently', 'mlflow', 'pyiceberg', 'lightgbm', 'xgboost'}); print(heavy)"
    )
    env_python = sys.executable
    out = subprocess.run(
        [env_python, "-c", code, str(DAG_FILE)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("verdict", "branch"),
    [("retrain", TRIGGER_RETRAINING), ("investigate", NO_RETRAINING), ("ok", NO_RETRAINING)],
)
def test_branch_for_maps_verdicts_both_ways(verdict: str, branch: str) -> None:
    assert branch_for(verdict) == branch


@pytest.mark.parametrize("bad", ["", "Retrain", "retrain ", "unknown"])
def test_branch_for_refuses_unknown_verdicts(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown verdict"):
        branch_for(bad)


def test_decide_task_uses_branch_for(dag: DAG) -> None:
    """The branch callable of the parsed DAG gives the same answers as the pure function."""
    decide = dag.task_dict["decide"]
    python_callable = decide.python_callable  # type: ignore[attr-defined]
    for verdict in SEVERITY:
        summary = {"verdict": verdict, "reasons": ["r"], "verdict_json": "x"}
        assert python_callable(summary) == branch_for(verdict)


def test_most_severe() -> None:
    assert most_severe("ok", "ok") == "ok"
    assert most_severe("ok", "investigate") == "investigate"
    assert most_severe("retrain", "investigate") == "retrain"
    assert most_severe("investigate", "retrain", "ok") == "retrain"
    with pytest.raises(ValueError):
        most_severe()
    with pytest.raises(ValueError, match="unknown"):
        most_severe("ok", "panic")
