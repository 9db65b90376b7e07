"""``fraudlake``: every pipeline stage and registry action as a command.

Heavy engines (MLflow, GX, Evidently) are imported inside the commands that use them,
so ``--help`` stays instant.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from fraudlake.audit.commands import audit_app
from fraudlake.online.commands import online_app
from fraudlake.params import Params, ParamsError, load_params
from fraudlake.pipeline.layout import Layout
from fraudlake.serving.commands import serve_app
from fraudlake.settings import Settings, get_settings
from fraudlake.stack.commands import stack_app
from fraudlake.streaming.feature_consumer_command import features_cmd as stream_features_cmd
from fraudlake.streaming.replay_command import replay_cmd

app = typer.Typer(
    help="fraudlake — real-time card-fraud detection on an Iceberg lake.\n\n"
    "Each pipeline stage is a command; `dvc repro` runs them in order (see dvc.yaml).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
model_app = typer.Typer(help="The model registry: champion, challenger, promotion history.")
app.add_typer(model_app, name="model")
app.add_typer(stack_app, name="stack")
stream_app = typer.Typer(
    help="Kafka streams: topics into the lake, exactly once (what fraud_stream_to_lake"
    " runs), and the plain-Python feature consumer."
)
app.add_typer(stream_app, name="stream")
stream_app.command("features")(stream_features_cmd)
app.command("replay")(replay_cmd)
app.add_typer(online_app, name="online")
app.add_typer(serve_app, name="serve")
app.add_typer(audit_app, name="audit")
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
T = TypeVar("T")


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
    for noisy in (
        "kafka",
        "great_expectations",
        "mlflow",
        "alembic",
        "urllib3",
        "numexpr",
        "matplotlib",
        "httpx",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    state.params_path = params
    state.root = root


def current_params() -> Params:
    """The parameters of this invocation (``--params``), or exit naming the problem."""
    try:
        return load_params(state.params_path)
    except ParamsError as exc:
        raise _fail(str(exc)) from exc


def label_delay_days() -> int:
    """The longest label delay of the parameters (``simulate.labels.delay_days_max``):
    what makes a day ``labelled``. Read when asked, so commands that do not need it do
    not need a valid params.yaml."""
    return current_params().simulate.labels.delay_days_max


def _context() -> tuple[Params, Settings, Layout]:
    return current_params(), get_settings(), Layout(state.root)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _run_stage(
    run: Callable[[Params, Settings, Layout], T], *expected: type[Exception]
) -> tuple[T, Settings, Layout]:
    """Run a pipeline stage with the project's context; an ``expected`` error is a clear
    message and exit 1 instead of a traceback."""
    params, settings, layout = _context()
    try:
        return run(params, settings, layout), settings, layout
    except expected as exc:
        raise _fail(str(exc)) from exc


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
    nothing of it reaches the lake, and the command exits 1 naming the failures. A batch
    that passed an earlier run with the same bytes, suite and parameters keeps that
    verdict without running GX again (delete
    .fraudlake/gx/gx/uncommitted/passed_batches.jsonl to check everything anew).
    """
    from fraudlake.pipeline.validate import BatchesQuarantined, run_validate

    result, _, _ = _run_stage(run_validate, BatchesQuarantined, FileNotFoundError)
    actions = list(result.published.values())
    console.print(
        f"{len(result.published)} batches passed ({result.verdicts_reused} verdicts reused: "
        "same bytes, same suite as an earlier run)\n"
        f"[green]lake updated[/]: {actions.count('appended')} appended, "
        f"{actions.count('replaced')} replaced, {actions.count('skipped')} unchanged, "
        f"{len(result.retired)} retired\n"
        f"Data Docs: {result.data_docs}"
    )


@app.command("features")
def features_cmd() -> None:
    """Compute point-in-time features of every transaction into features.transactions."""
    from fraudlake.pipeline.build_features import run_features

    result, _, _ = _run_stage(run_features, RuntimeError, ValueError)
    console.print(
        f"[green]features.transactions[/]: {result.rows:,} rows, {len(result.features)} features, "
        f"snapshot {result.snapshot_id} ({result.seconds:.1f}s)"
    )


@app.command("train")
def train_cmd() -> None:
    """Train LightGBM and XGBoost on a time-ordered split; log runs, models and plots to MLflow."""
    from fraudlake.pipeline.train import run_train
    from fraudlake.pipeline.training_set import TrainingSetError
    from fraudlake.training.split import SplitError

    results, settings, _ = _run_stage(run_train, TrainingSetError, SplitError)
    table = Table(title=f"candidates (test {results[0].test_window})")
    for column in ("family", "ROC AUC", "avg precision", "CP@100", "MLflow run"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.family,
            f"{r.metrics['roc_auc']:.4f}",
            f"{r.metrics['average_precision']:.4f}",
            f"{r.metrics['card_precision_at_100']:.4f}",
            r.run_id,
        )
    console.print(table)
    console.print(f"MLflow: {settings.resolved_mlflow_uri}")


@app.command("register")
def register_cmd() -> None:
    """Register the best candidate as `challenger`; promote it to `champion` if it beats
    the champion on the same hold-out by the margins in params.yaml (registry section)."""
    from fraudlake.pipeline.register import run_register

    (registered, decision), settings, _ = _run_stage(run_register, FileNotFoundError)
    verdict = (
        "[green]promoted to champion[/]" if decision.promoted else "[yellow]stays challenger[/]"
    )
    console.print(
        f"{registered.model_name} v{registered.version} ({registered.family}): {verdict}\n"
        f"  {decision.reason}\n  alias log: {settings.resolved_alias_log}"
    )


@app.command("drift")
def drift_cmd() -> None:
    """Evidently data-drift and classification reports (HTML + JSON) and a verdict:
    ok, investigate (> drift.investigate_share drifted) or retrain (> retrain_share)."""
    from fraudlake.monitoring import WindowError
    from fraudlake.pipeline.drift import run_drift_stage

    verdict, _, layout = _run_stage(run_drift_stage, FileNotFoundError, WindowError)
    colour = {"ok": "green", "investigate": "yellow", "retrain": "red"}[verdict.verdict]
    console.print(
        f"drift verdict: [{colour}]{verdict.verdict}[/] — {verdict.n_drifted}/{verdict.n_features}"
        f" features drifted ({verdict.share_drifted:.0%})\n"
        f"  report: {layout.reports / 'drift' / 'data_drift.html'}"
    )


@app.command("monitor")
def monitor_cmd() -> None:
    """Drift (Evidently) and the champion's delayed-label performance, one verdict:
    ok, investigate or retrain (the more severe part); reports in reports/monitoring/."""
    from rich.markup import escape

    from fraudlake.monitoring import WindowError
    from fraudlake.pipeline.monitor import run_monitoring
    from fraudlake.pipeline.training_set import TrainingSetError

    outcome, _, _ = _run_stage(run_monitoring, FileNotFoundError, WindowError, TrainingSetError)
    colour = {"ok": "green", "investigate": "yellow", "retrain": "red"}[outcome.verdict]
    reasons = "".join(f"\n  {escape(reason)}" for reason in outcome.reasons)
    console.print(
        f"monitoring verdict: [{colour}]{outcome.verdict}[/]{reasons}\n"
        f"  reports: {outcome.verdict_json.parent}"
    )


@app.command("summary")
def summary_cmd() -> None:
    """Where everything is — tables, MLflow, Data Docs, drift report — and the champion."""
    from fraudlake.pipeline.summary import print_summary

    params, settings, layout = _context()
    print_summary(params, settings, layout, console)


@app.command("handbook")
def handbook_cmd(
    out: Annotated[Path, typer.Option(help="Folder for the comparison report.")] = Path(
        "reports/handbook"
    ),
) -> None:
    """Reproduce the Fraud Detection Handbook's protocol and compare with its best
    published baseline (tuned XGBoost: AUC 0.869, AP 0.687, CP@100 0.303).

    Its simulation (1.76M transactions), then 4 prequential folds as in its chapter
    "Model selection": train 7 days, skip 7, test 7 with known-compromised cards removed;
    training weeks start 2018-08-15, 08-08, 08-01, 07-25. Prints the mean ± std over the
    folds and each fold; writes comparison.json under --out. Models come from params.yaml.
    """
    from fraudlake.pipeline.handbook import run_handbook

    params, settings, layout = _context()
    run_handbook(
        settings, out, console, train=params.train, defs_dir=layout.root / params.features.defs_dir
    )


@model_app.command("list")
def model_list_cmd() -> None:
    """Every registered version with its family, metrics, aliases and gate decision."""
    from fraudlake.pipeline.model_admin import print_versions

    params, settings, _ = _context()
    print_versions(params, settings, console)


@model_app.command("history")
def model_history_cmd() -> None:
    """The append-only alias log: every alias change, when, from, to, why, by whom."""
    from fraudlake.pipeline.model_admin import print_history

    params, settings, _ = _context()
    print_history(params, settings, console)


@model_app.command("promote")
def model_promote_cmd(
    version: Annotated[int, typer.Argument(help="Version to make champion.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the alias log).")],
) -> None:
    """Point `champion` at VERSION by hand, recording the reason in the alias log."""
    from mlflow.exceptions import MlflowException

    from fraudlake.pipeline.register import open_registry
    from fraudlake.training.registry import RegistryError

    params, settings, _ = _context()
    try:
        change = open_registry(params, settings).promote(version, reason)
    except RegistryError as exc:
        _fail(str(exc))
    except MlflowException as exc:
        _fail(f"{params.registry.model_name} v{version}: {exc.message}; see `fraudlake model list`")
    console.print(f"champion: v{change.from_version} → [green]v{change.to_version}[/]")


@model_app.command("rollback")
def model_rollback_cmd(
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the alias log).")],
) -> None:
    """Move `champion` back to the version that held it before (from the alias log)."""
    from fraudlake.pipeline.register import open_registry
    from fraudlake.training.registry import RegistryError

    params, settings, _ = _context()
    try:
        change = open_registry(params, settings).rollback(reason)
    except RegistryError as exc:
        _fail(str(exc))
    console.print(f"champion: v{change.from_version} → [yellow]v{change.to_version}[/]")


def run() -> None:
    """Entry point that turns unexpected errors into one readable line plus a hint."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


@stream_app.command("drain")
def stream_drain_cmd(
    sink: Annotated[
        str, typer.Argument(help="decisions (→ audit.decisions) or labels (→ raw.labels).")
    ],
    max_messages: Annotated[int, typer.Option(help="Stop after this many messages.")] = 100_000,
) -> None:
    """Append what the topic holds beyond the table's committed offsets, once. The offsets
    are stored in the Iceberg snapshot that carries the rows, so a crash before the commit
    loses nothing and one after it duplicates nothing. Malformed messages go to
    <home>/dead-letters/<topic>.jsonl."""
    import json

    from fraudlake.streaming.kafka_to_lake import drain_sink
    from fraudlake.streaming.sinks import ROUTES

    if sink not in ROUTES:
        _fail(f"unknown sink {sink!r}; choose one of {', '.join(ROUTES)}")
    result = drain_sink(sink, get_settings(), max_messages=max_messages)
    console.print_json(json.dumps(result.to_dict()))
