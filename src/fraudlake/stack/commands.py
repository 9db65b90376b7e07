"""``fraudlake stack up|down|status|logs|env``: the local stack from the command line."""

from __future__ import annotations

import shutil
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fraudlake.stack.airflow_client import AirflowClient, RunResult
from fraudlake.stack.config import StackConfig, load_stack_config
from fraudlake.stack.flink_commands import flink_app
from fraudlake.stack.manager import Stack, StackError

stack_app = typer.Typer(
    help="The local stack: S3 (SeaweedFS), Kafka, Flink, PostgreSQL, Redis, MLflow, Airflow and "
    "Ray Serve on 127.0.0.1, state under one folder (infra/stack.yaml).",
    no_args_is_help=True,
)
# URLs and passwords must not be cut: wide when not on a terminal (logs, CI, make demo)
console = Console(width=shutil.get_terminal_size((150, 24)).columns)
err = Console(stderr=True)

stack_app.add_typer(flink_app, name="flink")

ServicesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Services to act on (default: all), e.g. `postgres s3`."),
]


def _stack() -> Stack:
    return Stack(load_stack_config())


def _event(name: str, what: str) -> None:
    console.print(f"  [bold]{name:<9}[/] {what}")


@stack_app.command("up")
def up_cmd(services: ServicesArg = None) -> None:
    """Start the services (and what they need), wait until each answers, create buckets,
    topics and databases. Idempotent: running services are left alone."""
    stack = _stack()
    started = time.monotonic()
    console.print(f"stack state in {stack.config.resolved_state_dir}")
    try:
        stack.up(services, on_event=_event)
    except (StackError, RuntimeError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        err.print("see `fraudlake stack logs <service>`; `fraudlake stack down` stops the rest")
        raise typer.Exit(1) from exc
    console.print(f"[green]all healthy[/] in {time.monotonic() - started:.1f}s")
    _print_status(stack)


@stack_app.command("down")
def down_cmd(services: ServicesArg = None) -> None:
    """Stop the services this stack started (all by default); the data stays."""
    stack = _stack()
    try:
        stack.down(services, on_event=_event)
    except StackError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"stopped; data kept in {stack.config.resolved_state_dir}")


def _print_status(stack: Stack) -> bool:
    table = Table(title=f"fraudlake stack ({stack.config.resolved_state_dir})")
    for column in ("service", "state", "memory", "ports", "open", "login"):
        table.add_column(column)
    all_healthy = True
    statuses = stack.status()
    for s in statuses:
        state = (
            "[green]healthy[/]"
            if s.healthy
            else ("[yellow]running, not healthy[/]" if s.running else "[red]stopped[/]")
        )
        all_healthy &= s.healthy
        table.add_row(
            s.name,
            state,
            f"{s.memory_bytes / 2**20:,.0f} MiB" if s.running else "",
            ", ".join(f"{role} {port}" for role, port in s.ports.items()),
            "\n".join(f"{label}: {url}" for label, url in s.urls.items()),
            s.login or "",
        )
    table.add_section()
    total = sum(s.memory_bytes for s in statuses)
    table.add_row("total", "", f"{total / 2**20:,.0f} MiB", "", "", "")
    console.print(table)
    return all_healthy


@stack_app.command("status")
def status_cmd() -> None:
    """A table of services, ports, health, URLs and logins; exit 1 unless all healthy."""
    if not _print_status(_stack()):
        raise typer.Exit(1)


@stack_app.command("memory")
def memory_cmd(
    every: Annotated[float, typer.Option(help="Seconds between samples.")] = 1.0,
    duration: Annotated[float, typer.Option("--for", help="Seconds to watch; 0: one sample.")] = 0,
) -> None:
    """The stack's memory (PSS of all its processes and their children); with --for, the
    peak over that time — run it beside a pipeline run to measure the stack's peak."""
    stack = _stack()
    peak = stack.memory_bytes()
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        time.sleep(every)
        peak = max(peak, stack.memory_bytes())
    label = "peak" if duration else "now"
    console.print(f"stack memory ({label}): {peak / 2**30:.2f} GiB")


@stack_app.command("logs")
def logs_cmd(
    service: Annotated[str, typer.Argument(help="Service name, e.g. kafka or airflow.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines per process.")] = 50,
) -> None:
    """The last lines of a service's logs (one block per process)."""
    stack = _stack()
    selected = next((s for s in stack.services if s.name == service), None)
    if selected is None:
        names = ", ".join(s.name for s in stack.services)
        err.print(f"[bold red]error:[/] unknown service {service!r}; known: {names}")
        raise typer.Exit(1)
    for spec in selected.processes():
        console.rule(f"{spec.name} — {stack.table.log_path(spec.name)}")
        for line in stack.table.tail(spec.name, lines):
            console.print(line, markup=False, highlight=False)


@stack_app.command("env")
def env_cmd() -> None:
    """Shell exports that point fraudlake, DVC and MLflow at the stack:
    `eval "$(fraudlake stack env)"`."""
    for key, value in load_stack_config().client_env().items():
        print(f"export {key}={value}")


@stack_app.command("trigger")
def trigger_cmd(
    dag_id: Annotated[str, typer.Argument(help="The DAG to run, e.g. fraud_batch_pipeline.")],
    conf: Annotated[
        str,
        typer.Option(
            help='Run configuration as JSON, e.g. \'{"overrides": {"simulate.days": 35}}\'.'
        ),
    ] = "{}",
    wait: Annotated[bool, typer.Option(help="Follow the run until it finishes.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 1800.0,
) -> None:
    """Trigger a DAG through Airflow's REST API (as the admin user) and follow the run;
    exit 1 naming the failed tasks if it fails."""
    import json

    from fraudlake.stack.airflow_client import AirflowApiError

    try:
        run_conf = json.loads(conf)
    except json.JSONDecodeError as exc:
        err.print(f"[bold red]error:[/] --conf is not JSON: {exc}")
        raise typer.Exit(2) from exc
    config = load_stack_config()
    try:
        with _airflow_client(config) as client:
            client.wait_for_dag(dag_id)
            client.unpause(dag_id)
            run_id = client.trigger(dag_id, run_conf, note="fraudlake stack trigger")
            console.print(f"triggered {dag_id} run {run_id}")
            console.print(f"  follow it: {config.airflow_url}/dags/{dag_id}/runs/{run_id}")
            if not wait:
                return
            result = _follow(client, dag_id, run_id, timeout)
    except AirflowApiError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _report(result, config.airflow_url)


@stack_app.command("follow")
def follow_cmd(
    dag_id: Annotated[str, typer.Argument(help="The DAG whose run to follow.")],
    run_id: Annotated[
        str | None, typer.Option(help="The run (default: the DAG's newest run).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 1800.0,
) -> None:
    """Follow a run that is already going — by default the DAG's newest, such as the
    retraining `fraud_monitoring` starts on a `retrain` verdict — until it finishes; exit 1
    naming the failed tasks if it fails."""
    from fraudlake.stack.airflow_client import AirflowApiError

    config = load_stack_config()
    try:
        with _airflow_client(config) as client:
            if run_id is None:
                latest = client.latest_run(dag_id)
                if latest is None:
                    err.print(f"[bold red]error:[/] {dag_id} has no run to follow")
                    raise typer.Exit(1)
                run_id = str(latest["dag_run_id"])
                note = f" — {latest['note']}" if latest.get("note") else ""
                console.print(f"following {dag_id} run {run_id} ({latest['state']}){note}")
            console.print(f"  in the UI: {config.airflow_url}/dags/{dag_id}/runs/{run_id}")
            result = _follow(client, dag_id, run_id, timeout)
    except AirflowApiError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _report(result, config.airflow_url)


def _airflow_client(config: StackConfig) -> AirflowClient:
    """A client logged in as the stack's admin, or exit saying how to start Airflow."""
    from fraudlake.stack.airflow import AirflowService

    airflow = AirflowService(config)
    password = airflow.password()
    if password is None or not airflow.healthy():
        err.print("[bold red]error:[/] Airflow is not running; start it with `fraudlake stack up`")
        raise typer.Exit(1)
    return AirflowClient(config.airflow_url, config.airflow.admin_user, password)


def _report(result: RunResult, airflow_url: str) -> None:
    """Say how the run ended; exit 1 naming the failed tasks unless it succeeded."""
    where = f"{airflow_url}/dags/{result.dag_id}/runs/{result.run_id}"
    if result.state != "success":
        err.print(
            f"[bold red]run {result.run_id} {result.state}[/]: failed task(s) "
            f"{', '.join(result.failed_tasks) or '?'}; logs in the Airflow UI ({where})"
        )
        raise typer.Exit(1)
    console.print(f"[green]run {result.run_id} succeeded[/] in {result.seconds:.0f}s")


def _follow(client: AirflowClient, dag_id: str, run_id: str, timeout: float) -> RunResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tasks"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task(dag_id, total=None)

        def show(states: dict[str, str | None]) -> None:
            done = sum(1 for s in states.values() if s in {"success", "skipped"})
            running = [t for t, s in states.items() if s == "running"]
            progress.update(
                bar,
                total=len(states) or None,
                completed=done,
                description=f"{dag_id}: {', '.join(running) or 'waiting'}",
            )

        return client.wait_for_run(dag_id, run_id, timeout=timeout, on_progress=show)
