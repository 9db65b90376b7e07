"""An auditor's questions: what was this model trained on, why was this transaction
declined, what did a table hold then — answered from MLflow and the lake, journaled."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pyarrow.csv as pcsv
from pyiceberg.catalog import Catalog
from typer.testing import CliRunner

from fraudlake.audit.explain import explain_decision
from fraudlake.audit.history import read_as_of
from fraudlake.audit.lineage import model_lineage
from fraudlake.cli import app
from fraudlake.settings import Settings
from fraudlake.training.tracking import ensure_experiment, log_native_model, use_mlflow

from .conftest import CUSTOMERS, tx_id

runner = CliRunner()
MODEL = "fraud-detector"  # params.yaml registry.model_name


def _register(settings: Settings, lake: Catalog) -> tuple[int, dict[str, str]]:
    """A tiny LightGBM registered as version 1, its run tagged with the lineage training
    writes (the current raw.transactions snapshot, a commit, a dvc.lock hash)."""
    client = use_mlflow(settings.resolved_mlflow_uri)
    experiment = ensure_experiment(client, "audit-tests", settings.mlflow_artifact_root)
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"amount": rng.uniform(1, 100, 200), "card_count_1h": rng.poisson(2, 200)})
    y = (x["amount"] > 60).astype(int)
    model = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(x, y).booster_
    snapshot = lake.load_table("raw.transactions").current_snapshot()
    assert snapshot is not None
    tags = {
        "lineage.git_commit": "0123abc",
        "lineage.snapshot.raw.transactions": str(snapshot.snapshot_id),
        "lineage.snapshot.raw.labels": str(
            lake.load_table("raw.labels").snapshots()[0].snapshot_id
        ),
        "lineage.dvc.train:data/features": "d41d8cd98f00b204e9800998ecf8427e",
        "fraudlake.family": "lightgbm",
    }
    with mlflow.start_run(experiment_id=experiment):
        mlflow.set_tags(tags)
        mlflow.log_metric("average_precision", 0.61)
        info = log_native_model(model, x)
    version = int(mlflow.register_model(info.model_uri, MODEL).version)
    client.set_registered_model_alias(MODEL, "champion", str(version))
    return version, tags


def test_lineage_resolves_to_the_snapshots_and_shows_when_one_expired(
    lake: Catalog, settings: Settings
) -> None:
    version, tags = _register(settings, lake)
    client = use_mlflow(settings.resolved_mlflow_uri)
    lineage = model_lineage(client, lake, MODEL, version)
    assert lineage.git_commit == "0123abc" and lineage.aliases == ["champion"]
    assert lineage.dvc == {"train:data/features": tags["lineage.dvc.train:data/features"]}
    assert {s.table: s.status for s in lineage.snapshots} == {
        "raw.labels": "retained",
        "raw.transactions": "retained",
    }
    assert lineage.resolves and lineage.metrics["average_precision"] == 0.61

    result = runner.invoke(app, ["audit", "lineage", str(version)])
    assert result.exit_code == 0, result.output
    assert "0123abc" in result.output and "retained" in result.output

    # Erasing a customer expires raw.labels' older snapshot the model was trained on.
    assert runner.invoke(app, ["audit", "erase", "--customer", "1", "--yes"]).exit_code == 0
    after = model_lineage(client, lake, MODEL, version)
    assert {s.table: s.status for s in after.snapshots}["raw.labels"] == "expired"
    assert not after.resolves

    missing = runner.invoke(app, ["audit", "lineage", "99"])
    assert missing.exit_code == 1 and "has no version 99" in missing.output
    by_alias = runner.invoke(app, ["audit", "lineage", "champion"])
    assert by_alias.exit_code == 0 and f"version {version}" in by_alias.output
    no_alias = runner.invoke(app, ["audit", "lineage", "canary"])
    assert no_alias.exit_code == 1 and "no alias 'canary'" in no_alias.output


def test_explain_gives_the_decision_features_reasons_and_training_data(
    lake: Catalog, settings: Settings
) -> None:
    version, _ = _register(settings, lake)
    client = use_mlflow(settings.resolved_mlflow_uri)
    explanation = explain_decision(lake, client, tx_id(0, 2, 1))
    assert explanation.decision["decision"] == "decline" and explanation.copies == 1
    assert explanation.features == {"amount": 30.0, "card_count_1h": 4.0}
    assert explanation.reasons[0]["feature"] == "amount"
    assert explanation.lineage is not None and explanation.lineage.version == version

    result = runner.invoke(app, ["audit", "explain", str(tx_id(0, 2, 1))])
    assert result.exit_code == 0, result.output
    assert "decline" in result.output and "0123abc" in result.output

    unknown = runner.invoke(app, ["audit", "explain", "424242"])
    assert unknown.exit_code == 1 and "no decision for transaction 424242" in unknown.output


def test_read_as_of_a_snapshot_a_time_and_with_a_filter_and_every_read_is_journaled(
    lake: Catalog, tmp_path: Path
) -> None:
    table = lake.load_table("raw.transactions")
    first = table.snapshots()[0]
    result = runner.invoke(
        app, ["audit", "read", "raw.transactions", "--snapshot", str(first.snapshot_id)]
    )
    assert result.exit_code == 0, result.output
    assert f"as of snapshot {first.snapshot_id}: {3 * len(CUSTOMERS)} row(s)" in result.output

    result = runner.invoke(
        app, ["audit", "read", "raw.transactions", "--where", "customer_id=2", "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "first 2 row(s); more match" in result.output
    narrow = runner.invoke(
        app,
        ["audit", "read", "raw.transactions", "--limit", "3", "--columns", "transaction_id,amount"],
    )
    assert narrow.exit_code == 0 and "terminal_x" not in narrow.output
    assert "amount" in narrow.output
    # Only the shown columns are read from the lake (a decision row carries its features).
    selected, _ = read_as_of(lake, "raw.transactions", columns=["transaction_id", "amount"])
    assert selected.column_names == ["transaction_id", "amount"]
    unknown = runner.invoke(app, ["audit", "read", "raw.transactions", "--columns", "nope"])
    assert unknown.exit_code == 1 and "no column nope" in unknown.output
    out = tmp_path / "customer-2.csv"
    result = runner.invoke(
        app,
        ["audit", "read", "raw.transactions", "--where", "customer_id=2", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    written = pcsv.read_csv(out)
    assert written.num_rows == 9  # three days of customer 2, current snapshot
    assert set(written.column("customer_id").to_pylist()) == {2}

    before = runner.invoke(app, ["audit", "read", "raw.transactions", "--as-of", "2000-01-01"])
    assert before.exit_code == 1 and "did not exist yet" in before.output
    bad = runner.invoke(app, ["audit", "read", "raw.transactions", "--where", "nope=1"])
    assert bad.exit_code == 1 and "no column 'nope'" in bad.output
    wrong = runner.invoke(app, ["audit", "read", "raw.transactions", "--snapshot", "1"])
    assert wrong.exit_code == 1 and "has no snapshot 1" in wrong.output

    listing = runner.invoke(app, ["audit", "snapshots", "raw.transactions"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0 and "delete" in listing.output  # the restatement
    tables = runner.invoke(app, ["audit", "tables"])
    assert tables.exit_code == 0 and "audit.decisions" in tables.output

    journal = sorted(
        lake.load_table("audit.actions").scan().to_arrow().to_pylist(), key=lambda r: r["at"]
    )
    assert [r["action"] for r in journal] == ["read"] * 4 + ["snapshots", "tables"]
    first_read = json.loads(journal[0]["details"])
    assert first_read == {"rows": 3 * len(CUSTOMERS), "snapshot_id": first.snapshot_id, "where": []}
    assert {r["target"] for r in journal[:4]} == {"raw.transactions"}
