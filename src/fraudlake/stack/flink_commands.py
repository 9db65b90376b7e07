"""``fraudlake stack flink submit|status|cancel``: the streaming-features job on the
stack's Flink cluster."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fraudlake.stack.config import load_stack_config
from fraudlake.stack.flink_jobs import FEATURES_JOB, FlinkJobError, FlinkJobs

flink_app = typer.Typer(
    help="Flink jobs on the stack's cluster (web UI: `fraudlake stack status`).",
    no_args_is_help=True,
)
console = Console(width=shutil.get_terminal_size((150, 24)).columns)
err = Console(stderr=True)


@flink_app.command("submit")
def submit_cmd(
    resume: Annotated[
        bool,
        typer.Option(
            help="Resume from the newest retained checkpoint, if any (--no-resume: "
            "start from the committed Kafka offsets of the consumer group, or the beginning)."
        ),
    ] = True,
) -> None:
    """Submit the streaming-features job (Kafka transactions + labels → Redis online store
    and Kafka `features`) unless it runs already; wait until every task is running."""
    config = load_stack_config()
    try:
        with FlinkJobs(config) as jobs:
            job, checkpoint = jobs.submit_features_job(resume=resume)
    except (FlinkJobError, RuntimeError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    origin = f"resumed from {checkpoint}" if checkpoint else "running"
    console.print(f"[green]{job.name}[/] {job.job_id} {origin}")
    console.print(f"  watch it: {config.flink_url}/#/job/running/{job.job_id}/overview")


@flink_app.command("status")
def status_cmd() -> None:
    """The cluster's jobs: state, start, checkpoints."""
    try:
        with FlinkJobs(load_stack_config()) as jobs:
            found = jobs.jobs()
    except FlinkJobError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    table = Table("job", "id", "state", "started (UTC)", "checkpoints", "latest checkpoint")
    for job in found:
        started = dt.datetime.fromtimestamp(job.started, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            job.name,
            job.job_id,
            job.state,
            started,
            str(job.completed_checkpoints),
            job.latest_checkpoint or "",
        )
    console.print(table if found else "no jobs on the cluster")


@flink_app.command("cancel")
def cancel_cmd(
    name: Annotated[str, typer.Argument(help="The job's name.")] = FEATURES_JOB,
) -> None:
    """Cancel the running job; its checkpoints are kept, and `submit` resumes from them."""
    try:
        with FlinkJobs(load_stack_config()) as jobs:
            job = jobs.active(name)
            if job is None:
                console.print(f"{name} is not running")
                return
            jobs.cancel(job.job_id)
    except FlinkJobError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"cancelled {name} {job.job_id}")
