"""The `fraud_stream_to_lake` DAG, parsed by Airflow's own DagBag: one drain task per
stream sink, every five minutes, one run at a time, retried; thin over fraudlake."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from airflow.serialization.serialized_objects import DagSerialization

from fraudlake.streaming.kafka_to_lake import SINKS
from fraudlake.streaming.sinks import ROUTES

from .conftest import DAGS_FOLDER

DAG_ID = "fraud_stream_to_lake"
DAG_FILE = DAGS_FOLDER / "fraud_stream_to_lake.py"


@pytest.fixture(scope="module")
def dag() -> DAG:
    bag = DagBag(dag_folder=DAG_FILE, safe_mode=False)
    assert bag.import_errors == {}
    assert bag.dag_ids == [DAG_ID]
    return bag.dags[DAG_ID]


def test_one_task_per_sink_and_no_dependencies(dag: DAG) -> None:
    assert set(dag.task_dict) == {f"{name}_to_lake" for name in ROUTES}
    assert set(dag.task_dict) == {"decisions_to_lake", "labels_to_lake"}
    for task in dag.tasks:
        assert task.upstream_task_ids == set()  # the two sinks are independent
        assert task.retries == 2
        assert task.retry_delay == timedelta(seconds=30)
        assert task.execution_timeout is not None
        assert task.execution_timeout < timedelta(minutes=5)  # ends before the next run


def test_routes_are_the_sinks_the_library_drains() -> None:
    assert {n: (r.topic, r.table) for n, r in ROUTES.items()} == {
        n: (s.topic, s.table.identifier) for n, s in SINKS.items()
    }


def test_schedule_and_run_settings(dag: DAG) -> None:
    assert dag.schedule == timedelta(minutes=5)
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"fraudlake", "kafka", "iceberg"} <= set(dag.tags)
    assert dag.doc_md is not None
    for route in ROUTES.values():
        assert f"`{route.topic}` → `{route.table}`" in dag.doc_md
    assert "FRAUDLAKE_KAFKA_BOOTSTRAP" in dag.doc_md


def test_tasks_are_thin_calls_into_fraudlake(dag: DAG) -> None:
    for name in ROUTES:
        task = dag.task_dict[f"{name}_to_lake"]
        assert isinstance(task, PythonOperator)
        assert "drain_sink(route.name)" in inspect.getsource(task.python_callable)


def test_dag_survives_serialization(dag: DAG) -> None:
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert set(serialized.task_dict) == set(dag.task_dict)
    assert all(t.retries == 2 for t in serialized.tasks)
