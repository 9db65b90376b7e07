"""``fraudlake serve up|down|status|reload|traffic``: the scoring API on the local stack."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudlake.stack.config import load_stack_config
from fraudlake.stack.manager import Stack, StackError
from fraudlake.stack.ray_serve import APP_NAME, RayServeService

serve_app = typer.Typer(
    help="The scoring API: Ray Serve replicas serving the champion model over HTTP "
    "(POST /v1/score). Part of the stack; these commands act on it alone.",
    no_args_is_help=True,
)
console = Console(width=shutil.get_terminal_size((150, 24)).columns)
err = Console(stderr=True)


def _service() -> tuple[Stack, RayServeService]:
    stack = Stack(load_stack_config())
    (service,) = [s for s in stack.services if isinstance(s, RayServeService)]
    return stack, service


def _event(name: str, what: str) -> None:
    console.print(f"  [bold]{name:<9}[/] {what}")


@serve_app.command("up")
def up_cmd() -> None:
    """Start the Ray head and deploy the scoring API (with Redis, Kafka and MLflow, which
    it needs); wait until its replicas run."""
    stack, service = _service()
    try:
        stack.up(["serve"], on_event=_event)
    except (StackError, RuntimeError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _print_status(service)


@serve_app.command("down")
def down_cmd() -> None:
    """Stop the Ray head (replicas, HAProxy, dashboard); other services keep running."""
    stack, _ = _service()
    stack.down(["serve"], on_event=_event)


@serve_app.command("reload")
def reload_cmd() -> None:
    """Apply ``ray_serve/serve_config.yaml``'s options to the running replicas in place and
    make each look up the champion and challenger now (no restart, no failed request)."""
    _, service = _service()
    config = service.serve_config()
    for deployment in config["applications"][0]["deployments"]:
        options = deployment.setdefault("user_config", {})
        options["reload"] = dt.datetime.now(dt.UTC).isoformat()
    try:
        service.deploy(config)
    except (RuntimeError, httpx.HTTPError) as exc:
        err.print(f"[bold red]error:[/] {exc}\nis it up? `fraudlake serve up`")
        raise typer.Exit(1) from exc
    _print_status(service)


def _print_status(service: RayServeService) -> bool:
    config = service.config
    api = config.scoring_url
    token = service.tokens().split(",")[0]
    table = Table(title=f"scoring API {api}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    healthy = False
    try:
        app = service.applications().get(APP_NAME, {})
    except httpx.HTTPError:
        table.add_row("Ray", "[red]not reachable[/] — `fraudlake serve up`")
        console.print(table)
        return False
    table.add_row("application", f"{APP_NAME}: {app.get('status', 'not deployed')}")
    for name, deployment in app.get("deployments", {}).items():
        replicas = Counter(r.get("state", "?") for r in deployment.get("replicas", []))
        states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(replicas.items()))
        table.add_row(f"  {name}", f"{deployment.get('status', '?')}: replicas {states}")
    try:
        health = httpx.get(f"{api}/v1/health", timeout=5).json()
        model = httpx.get(
            f"{api}/v1/model", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).json()
        healthy = health.get("status") == "ok"
        table.add_row(
            "health", f"{health.get('status')}, online store {health.get('online_store')}"
        )
        table.add_row(
            "model",
            f"{model.get('name')} v{model.get('version')} ({model.get('family')}), "
            f"challenger v{model.get('challenger_version')}, shadow {model.get('shadow_share')}, "
            f"canary {model.get('canary_share')}",
        )
    except (httpx.HTTPError, ValueError) as exc:
        table.add_row("health", f"[red]no answer[/] ({type(exc).__name__})")
    for label, url in service.urls().items():
        table.add_row(label, url)
    table.add_row("token", f"Authorization: Bearer {token}")
    table.add_row("logs", str(service.state_dir / "ray" / "session_latest" / "logs" / "serve"))
    console.print(table)
    return healthy


@serve_app.command("status")
def status_cmd() -> None:
    """Application and replica states, the served model, URLs and the API token; exit 1
    unless the API is ready to score."""
    _, service = _service()
    if not _print_status(service):
        raise typer.Exit(1)


@serve_app.command("traffic")
def traffic_cmd(
    start: Annotated[
        str,
        typer.Option(
            metavar="DAY",
            help="Day to send: YYYY-MM-DD, `last` (the last raw day) or `labelled` (the last "
            "day whose investigations all came back, so its decisions meet their labels).",
        ),
    ] = "last",
    rate: Annotated[float, typer.Option(min=0, help="Requests per second; 0: flat out.")] = 200,
    limit: Annotated[
        int, typer.Option(min=0, help="Send at most this many transactions; 0: the whole day.")
    ] = 0,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at most.")] = 64,
    raw: Annotated[Path, typer.Option(help="Raw batches folder (DVC-tracked).")] = Path("data/raw"),
) -> None:
    """Send a day of raw transactions to POST /v1/score as a payment gateway would (card
    numbers included; the service pseudonymises them) and print decisions and latency."""
    from fraudlake.cli import label_delay_days
    from fraudlake.serving.traffic import score_body, send_traffic
    from fraudlake.streaming.replay import ReplayInputError, pick_day, read_raw_transactions

    _, service = _service()
    try:
        day = pick_day(raw, start, label_delay_days)
        rows = read_raw_transactions(raw, day, 1).to_pylist()
    except ReplayInputError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    rows = rows[:limit] if limit else rows
    url = service.config.scoring_url
    console.print(f"sending {len(rows)} transactions of {day} to {url}/v1/score at {rate:g}/s")
    with Progress(
        TextColumn("[bold]score"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("score", total=len(rows))

        def advance(status: int, body: dict[str, Any] | None) -> None:
            progress.advance(task)

        began = time.monotonic()
        result = asyncio.run(
            send_traffic(
                url,
                service.tokens().split(",")[0],
                (score_body(r) for r in rows),
                rate,
                concurrency=concurrency,
                on_answer=advance,
            )
        )
    table = Table(
        title=f"{result.sent} requests in {time.monotonic() - began:.1f}s ({result.rate:,.0f}/s)"
    )
    table.add_column("what")
    table.add_column("count / ms", justify="right")
    for code, n in sorted(result.codes.items()):
        table.add_row(f"HTTP {code}", f"{n:,}")
    for decision in ("approve", "review", "decline"):
        table.add_row(decision, f"{result.decisions.get(decision, 0):,}")
    table.add_row("degraded (fallback rules)", f"{result.degraded:,}")
    for model, n in result.models.most_common():
        table.add_row(f"model {model}", f"{n:,}")
    for p in (50, 90, 99):
        table.add_row(f"latency p{p}", f"{result.percentile(p):.1f}")
    console.print(table)
    console.print("every decision is on Kafka `decisions` (transaction, features, model, score)")
    if result.ok != result.sent:
        err.print(f"[red]{result.sent - result.ok} request(s) not answered with 200[/]; the first:")
        for failure in result.failures:
            err.print(f"  {failure}")
        raise typer.Exit(1)
