"""The `fraud_batch_pipeline` DAG, parsed by Airflow's own DagBag: it mirrors dvc.yaml exactly."""

from __future__ import annotations

import copy
import sysconfig
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.serialized_objects import DagSerialization

from fraudlake.orchestration.dvc_stages import leaves, load_stages, push_command, roots, upstream

from .conftest import DAGS_FOLDER, ROOT

DAG_ID = "fraud_batch_pipeline"
EXTRA_TASKS = {"apply_params", "dvc_push"}


def parse() -> DagBag:
    """Parse ``dags/`` as the DAG processor does (Airflow 3's DagBag has no example DAGs)."""
    return DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)


@pytest.fixture(scope="module")
def dag() -> DAG:
    # the whole dags/ folder parses (every DAG file there, not only this one)
    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert bag.import_errors == {}
    assert DAG_ID in bag.dag_ids
    return bag.dags[DAG_ID]


def stage_graph(dag: DAG) -> dict[str, set[str]]:
    """``{task: upstream tasks}`` restricted to the stage tasks."""
    stages = set(dag.task_dict) - EXTRA_TASKS
    return {name: set(dag.task_dict[name].upstream_task_ids) & stages for name in stages}


def test_stage_tasks_are_exactly_the_dvc_stage_graph(dag: DAG) -> None:
    expected = upstream(load_stages(ROOT / "dvc.yaml"))
    assert set(dag.task_dict) == set(expected) | EXTRA_TASKS
    assert stage_graph(dag) == expected
    downstream = {name: set(dag.task_dict[name].downstream_task_ids) for name in expected}
    assert downstream == {
        name: {other for other, deps in expected.items() if name in deps}
        | ({"dvc_push"} if name in leaves(expected) else set())
        for name in expected
    }


def test_apply_params_comes_first_and_dvc_push_last(dag: DAG) -> None:
    graph = upstream(load_stages(ROOT / "dvc.yaml"))
    apply_params, dvc_push = dag.task_dict["apply_params"], dag.task_dict["dvc_push"]
    assert apply_params.upstream_task_ids == set()
    assert apply_params.downstream_task_ids == roots(graph)
    for name in roots(graph):
        assert dag.task_dict[name].upstream_task_ids == {"apply_params"}
    assert dvc_push.upstream_task_ids == leaves(graph)
    assert dvc_push.downstream_task_ids == set()
    assert apply_params.retries == 0


def test_every_stage_task_runs_dvc_repro_single_item_in_the_project_root(dag: DAG) -> None:
    venv_bin = sysconfig.get_path("scripts")
    for stage in load_stages(ROOT / "dvc.yaml"):
        task = dag.task_dict[stage.name]
        assert isinstance(task, BashOperator)
        assert task.bash_command == f"dvc repro --single-item {stage.name}"
        assert task.cwd == str(ROOT)
        assert task.append_env is True
        assert task.env is not None and set(task.env) == {"PATH"}  # the rest comes at run time
        assert task.env["PATH"].split(":")[0] == venv_bin
        assert task.skip_on_exit_code == []  # any failure fails the task
        assert task.retries == (0 if stage.name == "validate" else 1)
        assert stage.cmd in (task.doc_md or "")
    push = dag.task_dict["dvc_push"]
    assert isinstance(push, BashOperator)
    assert push.bash_command == push_command()
    assert push.cwd == str(ROOT)


def test_dag_settings_and_trigger_form(dag: DAG) -> None:
    assert dag.schedule is None  # triggered by hand
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"fraudlake", "dvc"} <= set(dag.tags)
    assert dag.doc_md and "overrides" in dag.doc_md and "simulate.days" in dag.doc_md
    overrides = dag.params.get_param("overrides")
    assert overrides.value == {}
    assert overrides.schema["type"] == "object"
    assert "simulate.days" in (overrides.description or "")
    # Param.resolve stores the value it validates: check the form's input on copies
    good = {"simulate.days": 49, "simulate.drift.enabled": True}
    assert copy.copy(overrides).resolve(good) == good
    for bad in ({"simulate days": 49}, {"simulate..days": 1}, ["simulate.days"], None):
        with pytest.raises(ParamValidationError):
            copy.copy(overrides).resolve(bad)
    assert overrides.value == {}


def test_dag_survives_serialization(dag: DAG) -> None:
    """What the DAG processor stores for the scheduler and UI keeps the graph and commands."""
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert {t.task_id: set(t.upstream_task_ids) for t in serialized.tasks} == {
        t.task_id: set(t.upstream_task_ids) for t in dag.tasks
    }
    assert serialized.params.get_param("overrides").value == {}


def test_project_root_override_builds_the_dag_from_that_dvc_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  a:\n    cmd: echo a > a\n    outs: [a]\n"
        "  b:\n    cmd: echo b > b\n    outs: [b]\n"
        "  c:\n    cmd: cat a b > c\n    deps: [a, b]\n    outs: [c]\n"
    )
    monkeypatch.setenv("FRAUDLAKE_PROJECT_ROOT", str(tmp_path))
    bag = parse()
    dag = bag.dags[DAG_ID]
    assert stage_graph(dag) == {"a": set(), "b": set(), "c": {"a", "b"}}
    assert dag.task_dict["apply_params"].downstream_task_ids == {"a", "b"}
    assert dag.task_dict["dvc_push"].upstream_task_ids == {"c"}
    task_c = dag.task_dict["c"]
    assert isinstance(task_c, BashOperator) and task_c.cwd == str(tmp_path)


def test_a_malformed_dvc_yaml_is_an_import_error_that_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    deps: [x]\n")
    monkeypatch.setenv("FRAUDLAKE_PROJECT_ROOT", str(tmp_path))
    bag = parse()
    assert DAG_ID not in bag.dags
    (error,) = [e for f, e in bag.import_errors.items() if f.endswith("fraud_batch_pipeline.py")]
    assert "stage 'a' has no `cmd`" in error
