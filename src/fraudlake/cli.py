"""``fraudlake``: every pipeline stage and registry action as a command.

Heavy engines (MLflow, GX, Evidently) are imported inside the commands that use them,
so ``--help`` stays instant.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from fraudlake.params import Params, ParamsError, load_params
from fraudlake.pipeline.layout import Layout
from fraudlake.settings import Settings, get_settings

app = typer.Typer(
    help="fraudlake — real-time card-fraud detection on an Iceberg lake.\n\n"
    "Each pipeline stage is a command; `dvc repro` runs them in order (see dvc.yaml).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
model_app = typer.Typer(help="The model registry: champion, challenger, promotion history.")
app.add_typer(model_app, name="model")
console = Console()
err = Console(stderr=True)

ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="Pipeline parameters file.", show_default=True)
]
RootOption = Annotated[
    Path, typer.Option("--root", help="Project folder holding data/ and reports/.")
]


class _State:
    params_path: Path = Path("params.yaml")
    root: Path = Path(".")


state = _State()


@app.callback()
def main(
    params: ParamsOption = Path("params.yaml"),
    root: RootOption = Path("."),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=True)],
    )
    for noisy in ("great_expectations", "mlflow", "alembic", "urllib3", "numexpr", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    state.params_path = params
    state.root = root


def _context() -> tuple[Params, Settings, Layout]:
    try:
        params = load_params(state.params_path)
    except ParamsError as exc:
        _fail(str(exc))
    return params, get_settings(), Layout(state.root)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command("simulate")
def simulate_cmd() -> None:
    """Generate raw daily batches (transactions, customers, labels, fraud intel) in data/raw."""
    from fraudlake.pipeline.simulate import run_simulate

    params, _, layout = _context()
    manifest = run_simulate(params, layout)
    console.print(
        f"[green]simulated[/] {manifest.rows.get('transactions', 0):,} transactions over "
        f"{manifest.days} days from {manifest.start_date} ({manifest.profile} profile, "
        f"seed {manifest.seed}), fraud rate {manifest.fraud_rate:.2%} → {layout.raw}"
    )


@app.command("ingest")
def ingest_cmd() -> None:
    """Stage raw batches for validation, pseudonymising card numbers (keyed HMAC)."""
    from fraudlake.pipeline.ingest import run_ingest

    _, settings, layout = _context()
    try:
        result = run_ingest(settings, layout)
    except FileNotFoundError as exc:
        _fail(str(exc))
    console.print(
        f"[green]staged[/] {result.batches} batches, {result.rows:,} rows → {layout.staging}"
    )


@app.command("validate")
def validate_cmd() -> None:
    """Validate staged batches (Great Expectations); publish good ones, quarantine bad ones.

    A batch that fails any expectation is copied to data/quarantine/ with a JSON outcome,
    nothing of it reaches the lake, and the command exits 1 naming the failures.
    """
    from fraudlake.pipeline.validate import BatchesQuarantined, run_validate

    params, settings, layout = _context()
    try:
        result = run_validate(params, settings, layout)
    except BatchesQuarantined as exc:
        _fail(str(exc))
    except FileNotFoundError as exc:
        _fail(str(exc))
    actions = list(result.published.values())
    console.print(
        f"[green]lake updated[/]: {actions.count('appended')} appended, "
        f"{actions.count('replaced')} replaced, {actions.count('skipped')} unchanged, "
        f"{len(result.retired)} retired\n"
        f"Data Docs: {result.data_docs}"
    )


@app.command("features")
def features_cmd() -> None:
    """Compute point-in-time features of every transaction into features.transactions."""
    from fraudlake.pipeline.build_features import run_features

    params, settings, layout = _context()
    try:
        result = run_features(params, settings, layout)
    except (RuntimeError, ValueError) as exc:
        _fail(str(exc))
    console.print(
        f"[green]features.transactions[/]: {result.rows:,} rows, {len(result.features)} features, "
        f"snapshot {result.snapshot_id} ({result.seconds:.1f}s)"
    )


def run() -> None:
    """Entry point that turns unexpected errors into one readable line plus a hint."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
