"""``fraudlake audit``: the lake's history, decisions explained, model lineage, erasure.

Every command is itself recorded in ``audit.actions`` (who, what, when, outcome).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fraudlake.params import ParamsError, load_params
from fraudlake.settings import Settings, get_settings

audit_app = typer.Typer(
    help="The auditor's view: tables and snapshots, reads as of any snapshot or time, why a "
    "transaction was decided as it was, what a model was trained on, and erasing a "
    "customer. Every command is recorded in the audit.actions table.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="Pipeline parameters file.")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def _catalog(settings: Settings) -> Any:
    from fraudlake.lake.catalog import open_catalog

    return open_catalog(settings)


def _journal(settings: Settings, action: str, target: str, details: dict[str, Any]) -> None:
    from fraudlake.audit.journal import record_action

    entry = record_action(_catalog(settings), action, target, details)
    err.print(f"[dim]recorded in audit.actions: {action} {target} ({entry.action_id})[/]")


def _when(ms_or_dt: dt.datetime) -> str:
    return ms_or_dt.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@audit_app.command("tables")
def tables_cmd() -> None:
    """Every lake table: snapshots, rows now, the last commit and which run made it."""
    from fraudlake.audit.history import lake_tables, made_by, table_history

    settings = get_settings()
    catalog = _catalog(settings)
    view = Table(title=f"lake tables in {settings.resolved_catalog_uri}")
    for column in ("table", "snapshots", "rows now", "last commit", "by"):
        view.add_column(column, overflow="fold")
    names = lake_tables(catalog)
    for name in names:
        history = table_history(catalog, name)
        last = history.current
        view.add_row(
            name,
            str(len(history.snapshots)),
            last.summary.get("total-records", "0") if last else "0",
            _when(last.committed_at) if last else "-",
            made_by(last) if last else "-",
        )
    console.print(view)
    _journal(settings, "tables", "lake", {"tables": names})


@audit_app.command("snapshots")
def snapshots_cmd(
    table: Annotated[str, typer.Argument(help="namespace.table, e.g. raw.transactions")],
) -> None:
    """A table's snapshots: id, when, operation, rows added/deleted, which run.

    Read one with `fraudlake audit read TABLE --snapshot ID`."""
    from pyiceberg.exceptions import NoSuchTableError

    from fraudlake.audit.history import made_by, table_history

    settings = get_settings()
    try:
        history = table_history(_catalog(settings), table)
    except NoSuchTableError:
        _fail(f"no table {table!r}; list them with `fraudlake audit tables`")
    view = Table(title=f"{table}: {len(history.snapshots)} snapshot(s)")
    for column in ("snapshot id", "committed", "operation", "added", "deleted", "by"):
        view.add_column(column, overflow="fold")
    for snap in history.snapshots:
        view.add_row(
            str(snap.snapshot_id),
            _when(snap.committed_at),
            snap.operation,
            str(snap.rows_added),
            snap.summary.get("deleted-records", "0"),
            made_by(snap),
        )
    console.print(view)
    _journal(settings, "snapshots", table, {"snapshots": len(history.snapshots)})


@audit_app.command("read")
def read_cmd(
    table: Annotated[str, typer.Argument(help="namespace.table")],
    snapshot: Annotated[int | None, typer.Option(help="read as of this snapshot id")] = None,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d"],
            help="read as of this time (with a zone, e.g. 2024-03-01T12:00:00+00:00; a bare "
            "date is midnight UTC)",
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help="column=value (repeatable; all must hold), e.g. transaction_id=42"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="rows to show")] = 20,
    columns: Annotated[
        str | None,
        typer.Option(help="comma-separated columns to show, e.g. transaction_id,decision,score"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="also write every matching row to this .csv or .parquet")
    ] = None,
) -> None:
    """Rows of a table as they were at a snapshot or a time (time travel), or now."""
    from pyiceberg.exceptions import NoSuchTableError

    from fraudlake.audit.history import AsOfError, read_as_of
    from fraudlake.audit.row_filter import FilterError, parse_where

    settings = get_settings()
    catalog = _catalog(settings)
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.UTC)
    try:
        schema = catalog.load_table(table).schema()
        row_filter = parse_where(where or [], schema)
        shown_columns = [c.strip() for c in (columns or "").split(",") if c.strip()]
        names = [field.name for field in schema.fields]
        unknown = [c for c in shown_columns if c not in names]
        if unknown:
            _fail(
                f"--columns: no column {', '.join(unknown)} in {table}; columns: {', '.join(names)}"
            )
        rows, snapshot_id = read_as_of(
            catalog,
            table,
            snapshot_id=snapshot,
            when=as_of,
            row_filter=row_filter,
            limit=None if output else limit + 1,  # one more: says whether more match
            # --output writes whole rows; the screen needs only what it shows.
            columns=None if output else shown_columns,
        )
    except NoSuchTableError:
        _fail(f"no table {table!r}; list them with `fraudlake audit tables`")
    except (AsOfError, FilterError, ValueError) as exc:
        _fail(str(exc))
    shown = min(rows.num_rows, limit)
    more = rows.num_rows > limit
    title = f"{table} as of snapshot {snapshot_id}: " + (
        f"first {shown} row(s); more match (raise --limit, or --output FILE for all)"
        if more and output is None
        else f"{rows.num_rows} row(s)" + (f", first {shown} shown" if more else "")
    )
    view = Table()
    shown_columns = shown_columns or rows.column_names
    # Long values (feature vectors, reasons) are cut on screen; --output has them whole.
    for column in shown_columns:
        view.add_column(column, overflow="ellipsis", no_wrap=True, max_width=40)
    for row in rows.select(shown_columns).slice(0, limit).to_pylist():
        view.add_row(*(str(v) for v in row.values()))
    # The title as text: a table wider than the terminal crops its title, not the text.
    console.print(title)
    console.print(view)
    if output is not None:
        _write(rows, output)
        err.print(f"wrote {rows.num_rows} row(s) to {output}")
    _journal(
        settings,
        "read",
        table,
        {"snapshot_id": snapshot_id, "where": where or [], "rows": rows.num_rows},
    )


def _write(rows: Any, output: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if output.suffix == ".parquet":
        pq.write_table(rows, output)
    elif output.suffix == ".csv":
        pcsv.write_csv(rows, output)
    else:
        _fail(f"--output {output}: write .csv or .parquet")


@audit_app.command("explain")
def explain_cmd(
    transaction_id: Annotated[int, typer.Argument(help="the transaction to explain")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Why a transaction was decided as it was, by which model, trained on what.

    Shows the score, decision, reasons, the features the model saw, the model version and
    the lake snapshots that version was trained on (from `audit.decisions` and MLflow)."""
    from fraudlake.audit.explain import NoDecisionError, explain_decision
    from fraudlake.training.tracking import use_mlflow

    settings = get_settings()
    try:
        explanation = explain_decision(
            _catalog(settings), use_mlflow(settings.resolved_mlflow_uri), transaction_id
        )
    except NoDecisionError as exc:
        _fail(str(exc))
    d = explanation.decision
    head = Table(title=f"transaction {transaction_id}", show_header=False)
    head.add_column("field")
    head.add_column("value", overflow="fold")
    for key in (
        "decision",
        "score",
        "model_name",
        "model_version",
        "model_alias",
        "decided_at",
        "event_ts",
        "amount",
        "degraded",
        "degraded_reason",
        "latency_ms",
    ):
        head.add_row(key, str(d.get(key)))
    if explanation.copies > 1:
        head.add_row("published", f"{explanation.copies} times (a retried request)")
    console.print(head)
    reasons = Table(title="top reasons (log-odds towards fraud)")
    for column in ("feature", "value", "contribution"):
        reasons.add_column(column)
    for r in explanation.reasons:
        if isinstance(r, dict):
            reasons.add_row(str(r.get("feature")), str(r.get("value")), str(r.get("contribution")))
        else:
            reasons.add_row(str(r), "", "")
    console.print(reasons)
    if explanation.features:
        console.print(
            "features: "
            + ", ".join(
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in explanation.features.items()
            )
        )
    if explanation.lineage is not None:
        _print_lineage(explanation.lineage)
    else:
        console.print(f"lineage: {explanation.lineage_error}")
    _journal(
        settings,
        "explain",
        f"transaction:{transaction_id}",
        {"decision": d["decision"], "model_version": d["model_version"]},
    )


@audit_app.command("lineage")
def lineage_cmd(
    version: Annotated[
        str, typer.Argument(help="registered model version, or an alias (champion, challenger)")
    ],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """What a model version was built from: commit, dvc.lock, snapshots, metrics.

    Each Iceberg snapshot it read is checked against the lake (retained or expired)."""
    from fraudlake.audit.lineage import LineageError, model_lineage
    from fraudlake.training.tracking import use_mlflow

    settings = get_settings()
    try:
        name = load_params(params).registry.model_name
    except ParamsError as exc:
        _fail(str(exc))
    client = use_mlflow(settings.resolved_mlflow_uri)
    try:
        number = int(version) if version.isdigit() else _alias_version(client, name, version)
        lineage = model_lineage(client, _catalog(settings), name, number)
    except LineageError as exc:
        _fail(str(exc))
    _print_lineage(lineage)
    _journal(
        settings,
        "lineage",
        f"model:{name}/{version}",
        {"resolves": lineage.resolves, "snapshots": {s.table: s.status for s in lineage.snapshots}},
    )


def _erase_online(
    redis_url: str | None, params: Path, customer: int, transactions: list[Any]
) -> dict[str, int] | str:
    """Erase from the online store when one is configured; what happened, for the journal."""
    if not redis_url:
        err.print("  online store: no --redis-url (FRAUDLAKE_REDIS_URL): not erased")
        return "not configured"
    import redis

    from fraudlake.features.definitions import load_feature_set
    from fraudlake.online.erase import erase_from_online_store

    try:
        loaded = load_params(params)
    except ParamsError as exc:
        _fail(str(exc))
    features = load_feature_set(params.resolve().parent / loaded.features.defs_dir)
    try:
        done = erase_from_online_store(
            redis.Redis.from_url(redis_url), features, customer, transactions
        )
    except redis.RedisError as exc:
        _fail(f"the lake is erased, the online store {redis_url} is not: {exc}; run again")
    err.print(
        f"  online store: {done.members_removed} window member(s), "
        f"{done.profiles_removed} profile removed"
    )
    return {"members_removed": done.members_removed, "profiles_removed": done.profiles_removed}


def _alias_version(client: Any, name: str, alias: str) -> int:
    from mlflow.exceptions import MlflowException

    from fraudlake.audit.lineage import LineageError

    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise LineageError(
            f"{name} has no alias {alias!r}: give a version number or champion/challenger "
            "(see `fraudlake model list`)"
        ) from exc


def _print_lineage(lineage: Any) -> None:
    view = Table(
        title=f"{lineage.model_name} version {lineage.version} ({lineage.family}"
        f"{', ' + ', '.join(lineage.aliases) if lineage.aliases else ''}): run {lineage.run_id}"
    )
    view.add_column("what")
    view.add_column("value", overflow="fold")
    view.add_row("git commit", lineage.git_commit)
    for ref in lineage.snapshots:
        view.add_row(f"snapshot {ref.table}", f"{ref.snapshot_id} ({ref.status})")
    for key, digest in lineage.dvc.items():
        view.add_row(f"dvc {key}", digest)
    for key, value in lineage.metrics.items():
        view.add_row(f"metric {key}", f"{value:.4g}")
    for key, value in lineage.gate.items():
        view.add_row(key, value)
    console.print(view)


@audit_app.command("erase")
def erase_cmd(
    customer: Annotated[int, typer.Option("--customer", help="customer id to erase")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    redis_url: Annotated[
        str | None,
        typer.Option(
            envvar="FRAUDLAKE_REDIS_URL",
            help="also erase the customer from this online store (the stack sets it)",
        ),
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Erase a customer from every table and prove no retained snapshot holds them.

    Deletes the customer's rows (by customer id, and by their transaction ids where a
    table has only those), expires the older snapshots of those tables (time travel before
    now is lost for them), deletes the files no snapshot needs any more, then scans every
    retained snapshot for the customer."""
    from fraudlake.audit.erase import erase_customer, find_customer
    from fraudlake.privacy import card_id

    settings = get_settings()
    if not yes:
        typer.confirm(
            f"Erase customer {customer} from every lake table and expire the history that "
            "holds them? This cannot be undone",
            abort=True,
        )
    pseudonym = card_id(f"customer:{customer}", settings.hmac_key_bytes())
    catalog = _catalog(settings)
    footprint = find_customer(catalog, customer)
    err.print(f"  customer has {len(footprint.transaction_ids)} transaction(s) in the lake")
    # The online store first: its members are found from the lake rows about to go.
    online = _erase_online(redis_url, params, customer, footprint.transactions)
    report = erase_customer(catalog, footprint, pseudonym, progress=lambda m: err.print(f"  {m}"))
    view = Table(title=f"erasure of customer {customer} (recorded as {pseudonym})")
    for column in (
        "table",
        "rows deleted",
        "snapshots expired",
        "files deleted",
        "retained snapshots checked",
        "rows found there",
    ):
        view.add_column(column)
    for t in report.tables:
        view.add_row(
            t.table,
            str(t.rows_deleted),
            str(t.snapshots_expired),
            str(t.files_deleted),
            str(len(t.retained_checked)),
            str(sum(t.retained_checked.values())),
        )
    console.print(view)
    details: dict[str, Any] = {
        "online_store": online,
        "clean": report.clean,
        "transactions": report.transaction_ids,
        "tables": {
            t.table: {
                "rows_deleted": t.rows_deleted,
                "snapshots_expired": t.snapshots_expired,
                "files_deleted": t.files_deleted,
                "retained_checked": {str(k): v for k, v in t.retained_checked.items()},
            }
            for t in report.tables
        },
    }
    _journal(settings, "erase", f"customer:{pseudonym}", details)
    if not report.clean:
        _fail("rows of the customer remain in a retained snapshot: see the table above")
    console.print(f"[green]customer {customer} erased; no retained snapshot holds them[/]")
