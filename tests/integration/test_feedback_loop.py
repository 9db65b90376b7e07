"""The feedback loop on the real stack, after the batch pipeline made a champion: a day of
traffic through the scoring API, its decisions and the delayed labels through Kafka and
Airflow into the lake, the monitoring verdict, and the champion's lineage — each hand-off
checked.

The scored day is the last one whose investigations all came back within the simulated
horizon (``labels.delay_days_max`` before the end, as ``make demo`` picks it), so its
frauds have labels. Those
labels reach Kafka as the investigation system would send them; the batch pipeline
already ingested them too, and the stream sink must not land them twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import httpx
import pyarrow as pa
import pytest
from mlflow import MlflowClient
from pyiceberg.expressions import In
from typer.testing import CliRunner

from fraudlake.audit.lineage import model_lineage
from fraudlake.cli import app
from fraudlake.lake.catalog import open_catalog
from fraudlake.params import load_params
from fraudlake.serving.traffic import score_body, send_traffic
from fraudlake.settings import get_settings
from fraudlake.stack.airflow_client import RunResult
from fraudlake.stack.ray_serve import RayServeService
from fraudlake.streaming.replay import (
    LABELLED_DAY,
    labels_of_day,
    merged_events,
    pick_day,
    publish,
    read_raw_transactions,
)
from tests.integration.conftest import StackUnderTest

pytestmark = pytest.mark.slow

MODEL = "fraud-detector"


def _trigger(stack: StackUnderTest, dag: str) -> RunResult:
    with stack.airflow() as airflow:
        airflow.wait_for_dag(dag)
        run_id = airflow.trigger(dag)
        result = airflow.wait_for_run(dag, run_id, timeout=900)
    assert result.state == "success", f"{dag} {run_id}: {result.task_states}"
    return result


def _serve_champion(stack: StackUnderTest, token: str, version: int) -> None:
    """``fraudlake serve reload``, then wait until the API says it serves ``version``."""
    (serve,) = [s for s in stack.stack.services if isinstance(s, RayServeService)]
    config = serve.serve_config()
    for deployment in config["applications"][0]["deployments"]:
        deployment.setdefault("user_config", {})["reload"] = dt.datetime.now(dt.UTC).isoformat()
    serve.deploy(config)
    deadline = time.monotonic() + 120
    while True:
        info = httpx.get(
            f"{stack.config.scoring_url}/v1/model",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        if info.get("version") == version:
            return
        assert time.monotonic() < deadline, f"replicas serve {info}, not version {version}"
        time.sleep(1)


def test_a_day_of_traffic_becomes_decisions_labels_a_verdict_and_lineage(
    stack_env: StackUnderTest,
) -> None:
    config = stack_env.config
    project = stack_env.project
    params = load_params(project / "params.yaml")
    mlflow = MlflowClient(tracking_uri=config.mlflow_uri, registry_uri=config.mlflow_uri)
    champion = int(mlflow.get_model_version_by_alias(MODEL, "champion").version)
    (serve,) = [s for s in stack_env.stack.services if isinstance(s, RayServeService)]
    token = serve.tokens().split(",")[0]
    _serve_champion(stack_env, token, champion)

    # The online store gets the profiles (request-time features need them).
    loaded = CliRunner().invoke(app, ["online", "load-profiles"])
    assert loaded.exit_code == 0, loaded.output

    # A day of traffic through the API, as the payment gateway sends it.
    raw = project / "data" / "raw"
    day = pick_day(raw, LABELLED_DAY, lambda: params.simulate.labels.delay_days_max)
    rows = read_raw_transactions(raw, day, 1).to_pylist()
    answers: dict[int, dict[str, Any]] = {}

    def keep(status: int, answer: dict[str, Any] | None) -> None:
        assert status == 200, status
        assert answer is not None
        answers[answer["transaction_id"]] = answer

    sent = asyncio.run(
        send_traffic(
            config.scoring_url,
            token,
            (score_body(r) for r in rows),
            0,
            concurrency=16,
            on_answer=keep,
        )
    )
    assert sent.ok == len(rows) == len(answers) > 100
    assert {a["model"]["version"] for a in answers.values() if not a["degraded"]} == {champion}

    # The investigations of that day's transactions come back, late, through Kafka.
    labels = labels_of_day(raw, day)
    assert set(labels["transaction_id"].to_pylist()) <= set(answers)
    assert labels.num_rows > 0, f"no fraud among the {len(answers)} transactions of {day}"
    publish(merged_events(pa.table({}), labels), config.kafka_bootstrap)

    # Airflow lands both streams in the lake.
    states = _trigger(stack_env, "fraud_stream_to_lake").task_states
    assert all(s == "success" for s in states.values()), states

    catalog = open_catalog(get_settings())
    ids = In(term="transaction_id", literals=set(answers))
    decided = catalog.load_table("audit.decisions").scan(row_filter=ids).to_arrow().to_pylist()
    assert sorted(r["transaction_id"] for r in decided) == sorted(answers)  # one to one
    for row in decided:
        answer = answers[row["transaction_id"]]
        assert row["decision"] == answer["decision"]
        assert row["score"] == answer["score"]
        assert row["model_version"] == (
            None if answer["model"]["version"] is None else str(answer["model"]["version"])
        )
        assert json.loads(row["reasons"]) == answer["reasons"]
        assert row["degraded"] == answer["degraded"]

    # Labels join the decisions: each of the day's frauds once, though it came twice.
    landed = catalog.load_table("raw.labels").scan(row_filter=ids).to_arrow()
    assert sorted(landed["transaction_id"].to_pylist()) == sorted(
        labels["transaction_id"].to_pylist()
    )
    by_id = {r["transaction_id"]: r for r in decided}
    joined = [by_id[i] for i in landed["transaction_id"].to_pylist()]
    assert len(joined) == labels.num_rows

    # Monitoring writes its verdict from the delayed labels.
    monitoring = _trigger(stack_env, "fraud_monitoring")
    # The run `fraudlake stack follow fraud_monitoring` would follow: the newest.
    with stack_env.airflow() as airflow:
        latest = airflow.latest_run("fraud_monitoring")
    assert latest is not None
    assert (latest["dag_run_id"], latest["state"]) == (monitoring.run_id, "success")
    verdict = json.loads((project / "reports" / "monitoring" / "verdict.json").read_text())
    assert verdict["verdict"] in {"ok", "investigate", "retrain"}

    # The champion traces back to lake snapshots that still exist.
    lineage = model_lineage(mlflow, catalog, MODEL, champion)
    assert lineage.snapshots and lineage.resolves, lineage.snapshots
    assert lineage.git_commit not in ("", "unknown")
