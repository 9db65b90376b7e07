"""``fraudlake summary``: where the pipeline's outputs are, and the champion's metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from fraudlake import schemas
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.snapshots import snapshots
from fraudlake.params import Params
from fraudlake.pipeline.layout import Layout
from fraudlake.settings import Settings
from fraudlake.training.metrics import headline_metrics

LAKE_TABLES = [
    "raw.transactions",
    "raw.customers",
    "raw.labels",
    "raw.fraud_intel",
    "features.transactions",
    "audit.decisions",
    "audit.actions",
]
#: What the summary shows of the champion: evaluate()'s metrics but the alert rates.
CHAMPION_METRICS = [m for m in headline_metrics() if not m.startswith("alert_rate")]


def lake_table(settings: Settings) -> Table:
    """Rows, snapshot count and current snapshot of every lake table."""
    from pyiceberg.exceptions import NoSuchTableError

    catalog = open_catalog(settings)
    table = Table(title=f"Iceberg lake — catalog {settings.resolved_catalog_uri}")
    for column in ("table", "rows", "snapshots", "current snapshot", "location"):
        table.add_column(column)
    for name in LAKE_TABLES:
        try:
            iceberg = catalog.load_table(name)
        except NoSuchTableError:
            table.add_row(name, "—", "0", "—", "not created")
            continue
        history = snapshots(iceberg, name)
        current = history[-1] if history else None
        rows = current.summary.get("total-records", "0") if current else "0"
        table.add_row(
            name,
            f"{int(rows):,}",
            str(len(history)),
            str(current.snapshot_id) if current else "—",
            iceberg.location(),
        )
    return table


@dataclass(frozen=True)
class DecisionOutcome:
    """Decisions of one kind by one model version, and what the labels say of them."""

    decision: str
    model_version: str
    decisions: int
    labelled_fraud: int


def decision_outcomes(decisions: pa.Table, labels: pa.Table) -> list[DecisionOutcome]:
    """``audit.decisions`` joined to ``raw.labels`` on the transaction: per (decision,
    model version — ``rules`` for the fallback), how many and how many proved fraud.
    Aggregated by DuckDB over the Arrow tables (no row passes through Python)."""
    con = duckdb.connect()
    con.register("decisions", decisions)
    con.register("labels", labels)
    rows = con.execute(
        """
        SELECT decision, coalesce(model_version, 'rules') AS version, count(*),
               count(*) FILTER (WHERE transaction_id IN
                   (SELECT transaction_id FROM labels WHERE is_fraud)),
               CASE decision WHEN 'decline' THEN 0 WHEN 'review' THEN 1
                             WHEN 'approve' THEN 2 ELSE 3 END AS rank
        FROM decisions
        GROUP BY decision, version
        ORDER BY rank, version
        """
    ).fetchall()
    return [DecisionOutcome(d, v, int(n), int(fraud)) for d, v, n, fraud, _ in rows]


def feedback_table(settings: Settings) -> Table | str:
    """The loop so far: decisions landed in the lake and what the delayed labels say."""
    from pyiceberg.exceptions import NoSuchTableError

    catalog = open_catalog(settings)
    try:
        decisions = (
            catalog.load_table("audit.decisions")
            .scan(selected_fields=("transaction_id", "decision", "model_version"))
            .to_arrow()
        )
    except NoSuchTableError:
        decisions = schemas.DECISIONS.empty_table()
    if not decisions.num_rows:
        return "no decisions in the lake yet: score traffic, then run fraud_stream_to_lake"
    try:
        labels = (
            catalog.load_table("raw.labels")
            .scan(selected_fields=("transaction_id", "is_fraud"))
            .to_arrow()
        )
    except NoSuchTableError:
        labels = schemas.LABELS.empty_table()
    table = Table(title=f"decisions in audit.decisions ({decisions.num_rows:,}) and their labels")
    for column in ("decision", "model version", "decisions", "labelled fraud so far"):
        table.add_column(column, justify="right")
    for o in decision_outcomes(decisions, labels):
        table.add_row(o.decision, o.model_version, f"{o.decisions:,}", f"{o.labelled_fraud:,}")
    return table


def champion_table(params: Params, settings: Settings) -> Table | str:
    """The champion's test metrics from its MLflow run, or why there is none."""
    from fraudlake.pipeline.register import open_registry

    registry = open_registry(params, settings)
    version = registry.champion_version()
    if version is None:
        return "no champion yet: run `dvc repro` (or `fraudlake train` then `register`)"
    client = registry.client
    mv = client.get_model_version(registry.name, str(version))
    run = client.get_run(mv.run_id) if mv.run_id else None
    metrics = run.data.metrics if run else {}
    family = mv.tags.get("fraudlake.family", "?")
    table = Table(
        title=f"champion: {registry.name} v{version} ({family}), test "
        f"{mv.tags.get('fraudlake.test_window', '?')}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in CHAMPION_METRICS:
        if name in metrics:
            table.add_row(name, f"{metrics[name]:.4f}")
    return table


def print_summary(params: Params, settings: Settings, layout: Layout, console: Console) -> None:
    """Print the lake, the champion, and the paths and URIs of every output."""
    from fraudlake.pipeline.validate import gx_root
    from fraudlake.validation.gate import docs_dir_of

    console.print(lake_table(settings))
    console.print(champion_table(params, settings))
    console.print(feedback_table(settings))
    verdict_path = layout.reports / "drift" / "verdict.json"
    verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else None
    where = Table(title="where to look", show_header=False)
    where.add_column("what")
    where.add_column("where")
    where.add_row("Iceberg warehouse", settings.resolved_warehouse)
    # never print a password: the catalog URI may carry one
    where.add_row("Iceberg catalog", make_url(settings.resolved_catalog_uri).render_as_string())
    mlflow_uri = settings.resolved_mlflow_uri
    browse = (
        f"(open {mlflow_uri} in a browser)"
        if mlflow_uri.startswith(("http://", "https://"))
        else f"(browse: mlflow ui --backend-store-uri {mlflow_uri})"
    )
    where.add_row("MLflow runs and registry", f"{mlflow_uri}\n{browse}")
    where.add_row("alias log (audit)", str(settings.resolved_alias_log))
    where.add_row("Data Docs (GX)", str(docs_dir_of(gx_root(settings)) / "index.html"))
    where.add_row("quarantined batches", str(layout.quarantine.resolve()))
    drift_line = str((layout.reports / "drift" / "data_drift.html").resolve())
    if verdict:
        drift_line += (
            f"\nverdict: {verdict['verdict']} ({verdict['n_drifted']}/{verdict['n_features']} "
            "features drifted)"
        )
    where.add_row("drift report", drift_line)
    monitoring = layout.reports / "monitoring" / "verdict.json"
    if monitoring.exists():
        judged = json.loads(monitoring.read_text())
        reasons = "".join(f"\n- {r}" for r in judged.get("reasons", []))
        where.add_row(
            "monitoring verdict", f"{judged['verdict']} ({monitoring.resolve()}){reasons}"
        )
    card = layout.reports / "registry" / "model_card.html"
    if card.exists():
        where.add_row("model card (last registered)", str(card.resolve()))
    where.add_row("training metrics", str((layout.reports / "train" / "metrics.json").resolve()))
    console.print(where)
