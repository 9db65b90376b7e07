"""Airflow DAG ``fraud_batch_pipeline``: the DVC batch pipeline, one task per ``dvc.yaml`` stage.

A thin adapter: the stages, their commands and their order all come from ``dvc.yaml``
through :mod:`fraudlake.orchestration.dvc_stages`, so adding a stage there adds a task here.
The project root is this file's grandparent folder, or ``$FRAUDLAKE_PROJECT_ROOT``.
"""

from __future__ import annotations

import json
import logging
import os
import sysconfig
from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, get_current_context, task

from fraudlake.orchestration.dvc_stages import (
    Stage,
    leaves,
    load_stages,
    push_command,
    repro_command,
    roots,
    upstream,
)
from fraudlake.orchestration.param_overrides import apply_param_overrides

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(
    os.environ.get("FRAUDLAKE_PROJECT_ROOT") or Path(__file__).resolve().parent.parent
).expanduser()
DVC_YAML = PROJECT_ROOT / "dvc.yaml"
PARAMS_YAML = PROJECT_ROOT / "params.yaml"
# The tasks run in the environment Airflow runs in; its bin dir holds `dvc` and `fraudlake`.
VENV_BIN = sysconfig.get_path("scripts")
# Only PATH is set here: append_env=True adds the worker's environment at run time, and
# nothing else of the parsing process's environment ends up in the serialized DAG.
TASK_ENV = {"PATH": os.pathsep.join([VENV_BIN, os.environ.get("PATH", os.defpath)])}
# A validation failure must fail the run at once and leave the quarantined batch in place.
NO_RETRY_STAGES = frozenset({"validate"})

STAGES = load_stages(DVC_YAML)
GRAPH = upstream(STAGES)

DOC_MD = f"""
# fraud_batch_pipeline

Runs the DVC batch pipeline of `{DVC_YAML}`, one task per stage, in the order `dvc dag` shows:
{" → ".join(stage.name for stage in STAGES)}.

1. **apply_params** writes the trigger form's `overrides` into `params.yaml` (validated
   first: an unknown key or an invalid value fails this task and changes nothing).
2. One task per stage runs `dvc repro --single-item <stage>` in the project root: DVC reruns
   the stage only if its code, data or parameters changed since `dvc.lock`.
   **validate** is never retried: failed batches stay in `data/quarantine/` and the run fails.
3. **dvc_push** pushes DVC-tracked outputs to the default DVC remote; with none configured
   it says so in its log and succeeds.

## Trigger form

`overrides` is a JSON object of dotted `params.yaml` keys, for example
`{{"simulate.days": 49}}` or `{{"simulate.drift.enabled": true, "train.imbalance": "sqrt"}}`.
Leave it `{{}}` to run with `params.yaml` as it is.

Overrides are written to `params.yaml` and **stay there** (DVC reads that file and records
it in `dvc.lock`): the next run starts from them. Commit them or revert them with git.
One run at a time (DVC holds a lock on the repository while a stage runs).
"""


def _stage_doc(stage: Stage) -> str:
    deps = ", ".join(f"`{path}`" for path in stage.deps) or "none"
    outs = ", ".join(f"`{path}`" for path in stage.outs) or "none"
    return f"`{stage.cmd}` (DVC stage `{stage.name}`)\n\n- deps: {deps}\n- outs: {outs}\n"


with DAG(
    dag_id="fraud_batch_pipeline",
    description="The dvc.yaml batch pipeline, one task per stage: " + " → ".join(GRAPH),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    tags={"fraudlake", "dvc", "batch"},
    doc_md=DOC_MD,
    params={
        "overrides": Param(
            {},
            type="object",
            title="params.yaml overrides",
            description=(
                "Dotted params.yaml keys to set before the run, as a JSON object, e.g. "
                '{"simulate.days": 49} or {"simulate.drift.enabled": true}. '
                "Written to params.yaml (and kept there); {} runs with params.yaml as is."
            ),
            examples=[{"simulate.days": 49}, {"simulate.drift.enabled": True}],
            propertyNames={"pattern": r"^[^\s.]+(\.[^\s.]+)*$"},
        ),
    },
) as dag:

    @task(task_id="apply_params", retries=0, doc_md="Write the trigger form's overrides.")
    def apply_params() -> dict[str, dict[str, object]]:
        """Apply the ``overrides`` param to params.yaml; return ``{key: {old, new}}``."""
        overrides = get_current_context()["params"].get("overrides") or {}
        log.info("overrides from the trigger form: %s", json.dumps(overrides, sort_keys=True))
        changes = apply_param_overrides(PARAMS_YAML, overrides)
        for key, (old, new) in changes.items():
            log.info("params.yaml: %s: %r -> %r", key, old, new)
        unchanged = sorted(set(overrides) - set(changes))
        if unchanged:
            log.info("params.yaml already had: %s", ", ".join(unchanged))
        if not overrides:
            log.info("no overrides: running with %s as it is", PARAMS_YAML)
        return {key: {"old": old, "new": new} for key, (old, new) in changes.items()}

    params_applied = apply_params()

    stage_tasks = {
        stage.name: BashOperator(
            task_id=stage.name,
            bash_command=repro_command(stage.name),
            cwd=str(PROJECT_ROOT),
            env=TASK_ENV,
            append_env=True,
            skip_on_exit_code=None,  # every non-zero exit fails the task
            retries=0 if stage.name in NO_RETRY_STAGES else 1,
            retry_delay=timedelta(seconds=30),
            doc_md=_stage_doc(stage),
        )
        for stage in STAGES
    }
    for name, deps in GRAPH.items():
        for dep in sorted(deps):
            stage_tasks[dep] >> stage_tasks[name]
    for name in sorted(roots(GRAPH)):
        params_applied >> stage_tasks[name]

    dvc_push = BashOperator(
        task_id="dvc_push",
        bash_command=push_command(),
        cwd=str(PROJECT_ROOT),
        env=TASK_ENV,
        append_env=True,
        skip_on_exit_code=None,
        retries=2,
        retry_delay=timedelta(minutes=1),
        doc_md="Push DVC-tracked outputs to the default DVC remote, if one is configured.",
    )
    for name in sorted(leaves(GRAPH)):
        stage_tasks[name] >> dvc_push
