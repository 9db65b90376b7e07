"""``fraud_batch_pipeline`` triggered through Airflow's REST API on the real stack: the
lake lands on S3 with a PostgreSQL catalog, the model in the MLflow server, the data in
the DVC remote."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from fraudlake.lake.catalog import open_catalog
from fraudlake.settings import get_settings
from tests.integration.conftest import StackUnderTest

pytestmark = pytest.mark.slow

DAG = "fraud_batch_pipeline"
STAGES = {"simulate", "ingest", "validate", "features", "train", "register", "drift"}


def test_every_service_reports_healthy(live_stack: StackUnderTest) -> None:
    statuses = {s.name: s for s in live_stack.stack.status()}
    assert set(statuses) == {
        "postgres",
        "redis",
        "s3",
        "kafka",
        "flink",
        "mlflow",
        "airflow",
        "serve",
    }
    unhealthy = [name for name, s in statuses.items() if not s.healthy]
    assert not unhealthy, f"not healthy: {unhealthy}"
    # `up` again is idempotent: nothing restarts, the same pids keep serving
    pids = {name: s.pids for name, s in statuses.items()}
    live_stack.stack.up()
    assert {s.name: s.pids for s in live_stack.stack.status()} == pids


def test_batch_pipeline_through_airflow_lands_on_the_stack(stack_env: StackUnderTest) -> None:
    live_stack = stack_env
    config = live_stack.config
    with live_stack.airflow() as airflow:
        airflow.wait_for_dag(DAG)
        airflow.unpause(DAG)
        run_id = airflow.trigger(DAG, {"overrides": {"drift.max_rows": 20000}})
        result = airflow.wait_for_run(DAG, run_id, timeout=1200)
    assert result.state == "success", f"run {run_id}: {result.task_states}"
    assert {t for t, s in result.task_states.items() if s == "success"} >= STAGES

    # Iceberg: catalog in PostgreSQL, every table's data and metadata on S3
    settings = get_settings()
    assert settings.resolved_catalog_uri.startswith("postgresql")
    catalog = open_catalog(settings)
    for name in ("raw.transactions", "raw.labels", "features.transactions"):
        table = catalog.load_table(name)
        assert table.metadata_location.startswith(f"s3://{config.s3.lake_bucket}/"), name
        assert table.current_snapshot() is not None, f"{name} has no snapshot"
        assert table.scan().to_arrow().num_rows > 0, f"{name} is empty"

    # MLflow server: a registered version holds the champion alias, artifacts on S3
    # both URIs explicit: earlier tests in this process set MLflow's global registry URI
    client = MlflowClient(tracking_uri=config.mlflow_uri, registry_uri=config.mlflow_uri)
    versions = client.search_model_versions("name='fraud-detector'")
    assert versions, "no model version registered in the MLflow server"
    champion = client.get_model_version_by_alias("fraud-detector", "champion")
    assert champion.version in {v.version for v in versions}
    s3 = boto3.client("s3", endpoint_url=config.s3_endpoint)
    artifacts = s3.list_objects_v2(Bucket=config.s3.mlflow_bucket).get("KeyCount", 0)
    assert artifacts > 0, "no MLflow artifact in the S3 bucket"

    # DVC: the raw batches pushed to the S3 remote by the DAG's last task
    pushed = s3.list_objects_v2(Bucket=config.s3.dvc_bucket, Prefix="dvc/").get("KeyCount", 0)
    assert pushed > 0, "dvc push put nothing in the S3 remote"
    project = live_stack.project
    assert (project / "dvc.lock").exists()

    # ... and a machine without the data gets it back from there
    manifest = (project / "data" / "raw" / "manifest.json").read_bytes()
    shutil.rmtree(project / "data" / "raw")
    shutil.rmtree(project / ".dvc" / "cache")
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "pull", "simulate"], cwd=project, check=True)
    assert (project / "data" / "raw" / "manifest.json").read_bytes() == manifest
    status = subprocess.run(
        [dvc, "status", "simulate"], cwd=project, check=True, capture_output=True, text=True
    )
    assert "up to date" in status.stdout, status.stdout


def test_a_broken_batch_fails_the_run_and_stays_in_quarantine(stack_env: StackUnderTest) -> None:
    """A raw batch with a negative amount arrives (recorded with `dvc commit`, as a new
    delivery would be): ingest stages it, validate fails the run (never retried), the
    batch waits in data/quarantine and nothing of that day reaches the lake."""
    project = stack_env.project
    newest = sorted((project / "data" / "raw" / "transactions").glob("*.parquet"))[-1]
    batch = pq.read_table(newest)
    amounts = batch["amount"].to_pylist()
    amounts[0] = -5.0
    column = batch.schema.get_field_index("amount")
    pq.write_table(batch.set_column(column, batch.schema.field(column), pa.array(amounts)), newest)
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "commit", "--force", "simulate"], cwd=project, check=True)
    table = open_catalog(get_settings()).load_table("raw.transactions")
    snapshot_before = table.current_snapshot()

    with stack_env.airflow() as airflow:
        run_id = airflow.trigger(DAG)
        result = airflow.wait_for_run(DAG, run_id, timeout=1200)
    assert result.state == "failed"
    assert result.task_states["validate"] == "failed"
    assert result.task_states["features"] == "upstream_failed"
    assert (project / "data" / "quarantine" / "transactions" / newest.name).exists()
    reasons = (project / "data" / "quarantine" / "transactions" / newest.name).with_suffix(".json")
    assert "amount" in reasons.read_text()
    table = open_catalog(get_settings()).load_table("raw.transactions")
    assert table.current_snapshot() == snapshot_before  # nothing appended or replaced
