"""``fraud_monitoring`` on the real stack, after the batch pipeline: it reports drift and
delayed-label performance and takes the branch its own verdict names."""

from __future__ import annotations

import json

import pytest

from fraudlake.pipeline.monitor import branch_for
from tests.integration.conftest import StackUnderTest

pytestmark = pytest.mark.slow

DAG = "fraud_monitoring"


def test_monitoring_takes_the_branch_of_its_verdict(stack_env: StackUnderTest) -> None:
    # runs after test_batch_dag (file order): the lake and a champion exist
    with stack_env.airflow() as airflow:
        airflow.wait_for_dag(DAG)
        run_id = airflow.trigger(DAG)
        result = airflow.wait_for_run(DAG, run_id, timeout=600)
    assert result.state == "success", result.task_states
    assert result.task_states["monitor"] == "success"

    verdict_file = stack_env.project / "reports" / "monitoring" / "verdict.json"
    verdict = json.loads(verdict_file.read_text())["verdict"]
    taken = branch_for(verdict)
    assert result.task_states[taken] == "success"
    others = {t for t in ("trigger_retraining", "no_retraining") if t != taken}
    assert all(result.task_states[t] == "skipped" for t in others)
    assert (stack_env.project / "reports" / "monitoring" / "performance.json").exists()
