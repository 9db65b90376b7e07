"""Airflow DAG ``fraud_monitoring``: daily drift + delayed-label performance, retrain on demand.

A thin adapter over :mod:`fraudlake.pipeline.monitor`: **monitor** runs
:func:`~fraudlake.pipeline.monitor.monitor_for_airflow` (reports under
``reports/monitoring/``), **decide** maps the combined verdict to a branch with
:func:`~fraudlake.pipeline.monitor.branch_for`, and on ``retrain`` **trigger_retraining**
starts ``fraud_batch_pipeline``; otherwise **no_retraining** ends the run.
The project root is this file's grandparent folder, or ``$FRAUDLAKE_PROJECT_ROOT``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

# Light on purpose (no Evidently, MLflow or pyiceberg at import): DAG files must parse fast.
from fraudlake.pipeline.monitor import NO_RETRAINING, TRIGGER_RETRAINING, branch_for

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(
    os.environ.get("FRAUDLAKE_PROJECT_ROOT") or Path(__file__).resolve().parent.parent
).expanduser()
#: The DAG a "retrain" verdict triggers; {} overrides run it with params.yaml as it is.
RETRAIN_DAG_ID = "fraud_batch_pipeline"

DOC_MD = f"""
# fraud_monitoring

Every day, for the project in `{PROJECT_ROOT}`:

1. **monitor** compares the newest `drift.current_days` of the lake's features with the
   `drift.reference_days` before them (Evidently data drift), and the champion's average
   precision on the newest days whose labels have matured (older than
   `train.label_maturity_days`) with its hold-out value at registration. Reports:
   `reports/monitoring/` (`verdict.json`, `performance.json`, `performance.html`,
   `drift/data_drift.html`).
2. **decide** takes the combined verdict, the more severe part
   (retrain > investigate > ok): **retrain** → `trigger_retraining`, else `no_retraining`.
3. **trigger_retraining** starts `{RETRAIN_DAG_ID}` with `{{"overrides": {{}}}}` and does not
   wait for it. An "investigate" verdict does not retrain: read the reports.
"""

with DAG(
    dag_id="fraud_monitoring",
    description="Daily drift + delayed-label performance; triggers retraining on 'retrain'",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,  # a monitor looks at the lake as it is now: no runs for missed days
    max_active_runs=1,
    tags={"fraudlake", "monitoring", "drift"},
    doc_md=DOC_MD,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
) as dag:

    @task(task_id="monitor", doc_md="Drift + performance reports and the combined verdict.")
    def monitor() -> dict[str, Any]:
        """Run the monitoring for the project; return its summary (verdict, reasons, paths)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from fraudlake.pipeline.monitor import monitor_for_airflow
        from fraudlake.pipeline.training_set import TrainingSetError

        log.info("monitoring the project in %s", PROJECT_ROOT)
        try:
            return monitor_for_airflow(PROJECT_ROOT)
        except TrainingSetError as exc:
            # a fresh stack: nothing to monitor until fraud_batch_pipeline has run once
            raise AirflowSkipException(f"nothing to monitor yet: {exc}") from exc

    @task.branch(task_id="decide", doc_md="retrain → trigger_retraining, else no_retraining.")
    def decide(summary: dict[str, Any]) -> str:
        """The branch of the combined verdict (a bad verdict fails the task)."""
        branch = branch_for(summary["verdict"])
        log.info("verdict %s → %s", summary["verdict"], branch)
        for reason in summary.get("reasons", []):
            log.info("  %s", reason)
        log.info("reports: %s", summary.get("verdict_json"))
        return branch

    trigger_retraining = TriggerDagRunOperator(
        task_id=TRIGGER_RETRAINING,
        trigger_dag_id=RETRAIN_DAG_ID,
        conf={"overrides": {}},
        note=(
            "Triggered by fraud_monitoring: combined verdict 'retrain' (drift and/or "
            "performance); reasons in reports/monitoring/verdict.json"
        ),
        wait_for_completion=False,
        retries=0,  # a second trigger would queue a second retraining
        doc_md=f"Start `{RETRAIN_DAG_ID}` with no overrides.",
    )
    no_retraining = EmptyOperator(task_id=NO_RETRAINING, doc_md="Nothing to retrain.")

    decide(monitor()) >> [trigger_retraining, no_retraining]
