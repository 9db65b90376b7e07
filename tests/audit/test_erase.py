"""Erasing a customer: gone from every table and every retained snapshot, the files that
held them deleted, the others untouched, and the erasure journaled under a pseudonym."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog
from typer.testing import CliRunner

from fraudlake.audit.erase import _referenced_files, customer_filter
from fraudlake.audit.history import lake_tables
from fraudlake.cli import app
from fraudlake.features.definitions import load_feature_set
from fraudlake.online.profiles import write_profiles
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.settings import Settings
from fraudlake.stream_features.events import Transaction
from fraudlake.stream_features.plan import build_stages
from tests.services import running_redis

from .conftest import CUSTOMERS, customers, tx_id

REPO = Path(__file__).resolve().parents[2]

runner = CliRunner()


def _customer_rows(catalog: Catalog, customer: int, txs: set[int]) -> dict[str, list[int]]:
    """table → rows of ``customer`` in each of its snapshots (current and retained)."""
    found: dict[str, list[int]] = {}
    for name in lake_tables(catalog):
        table = catalog.load_table(name)
        where = customer_filter(table.schema().column_names, customer, txs)
        found[name] = [
            table.scan(row_filter=where, snapshot_id=s.snapshot_id).to_arrow().num_rows
            for s in table.snapshots()
        ]
    return found


def test_erase_removes_the_customer_from_every_table_and_retained_snapshot(
    lake: Catalog, settings: Settings
) -> None:
    txs = {tx_id(day, 1, i) for day in range(3) for i in range(3)}
    before = _customer_rows(lake, 1, txs)
    assert sum(before["raw.transactions"]) > 0 and sum(before["audit.decisions"]) == 2
    others_before = {
        name: lake.load_table(name).scan().to_arrow().num_rows for name in lake_tables(lake)
    }
    files_before = {name: _referenced_files(lake.load_table(name)) for name in lake_tables(lake)}
    intel_snapshots = len(lake.load_table("raw.fraud_intel").snapshots())

    result = runner.invoke(app, ["audit", "erase", "--customer", "1", "--yes"])
    assert result.exit_code == 0, result.output
    assert "customer 1 erased" in result.output

    after = _customer_rows(lake, 1, txs)
    assert all(n == 0 for counts in after.values() for n in counts), after
    # Others keep every row: only the customer's went.
    removed = {
        "raw.transactions": 9,
        "raw.customers": 1,
        "raw.labels": 2,
        "audit.decisions": 2,
        "raw.fraud_intel": 0,
    }
    for name, n in others_before.items():
        if name == "audit.actions":
            continue
        now = lake.load_table(name).scan().to_arrow().num_rows
        assert now == n - removed[name], name
    # The old files that held the customer are gone from storage.
    for name in removed:
        if removed[name] == 0:
            continue
        gone = files_before[name] - _referenced_files(lake.load_table(name))
        assert gone, name
        for path in gone:
            assert not Path(urlparse(path).path).exists(), path
    # A table without customer data keeps its history.
    assert len(lake.load_table("raw.fraud_intel").snapshots()) == intel_snapshots
    # Customer 2's data is intact in the current snapshot.
    assert sum(_customer_rows(lake, 2, set())["raw.transactions"][-1:]) == 9

    (entry,) = [
        r
        for r in lake.load_table("audit.actions").scan().to_arrow().to_pylist()
        if r["action"] == "erase"
    ]
    assert entry["target"].startswith("customer:") and entry["target"] != "customer:1"
    assert entry["run"] == "test:audit"
    details = json.loads(entry["details"])
    assert details["clean"] is True and details["transactions"] == len(txs)
    assert details["tables"]["raw.transactions"]["rows_deleted"] == 9


def test_erasing_an_unknown_customer_deletes_nothing_and_says_so(lake: Catalog) -> None:
    rows_before = {
        name: lake.load_table(name).scan().to_arrow().num_rows for name in lake_tables(lake)
    }
    result = runner.invoke(app, ["audit", "erase", "--customer", "999", "--yes"])
    assert result.exit_code == 0, result.output
    assert "0 transaction(s)" in result.output
    for name, n in rows_before.items():
        if name != "audit.actions":
            assert lake.load_table(name).scan().to_arrow().num_rows == n


def test_erase_asks_before_it_acts(lake: Catalog) -> None:
    result = runner.invoke(app, ["audit", "erase", "--customer", "2"], input="n\n")
    assert result.exit_code != 0 and "Aborted" in result.output
    assert lake.load_table("raw.customers").scan().to_arrow().num_rows == len(CUSTOMERS)


def test_erase_reaches_the_online_store_before_the_lake(lake: Catalog, tmp_path: Path) -> None:
    stages = build_stages(load_feature_set(REPO / "feature_defs"))
    rows = lake.load_table("raw.transactions").scan().to_arrow().to_pylist()
    txs = [Transaction.from_row(r) for r in rows]
    with running_redis(tmp_path / "redis") as client:
        OnlineStoreWriter(client, stages).write(txs)
        write_profiles(client, customers().to_pylist())
        url = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
        result = runner.invoke(
            app,
            [
                "audit",
                "erase",
                "--customer",
                "1",
                "--yes",
                "--redis-url",
                url,
                "--params",
                str(REPO / "params.yaml"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert not client.exists("fl:customer:1") and client.exists("fl:customer:2")
        assert not client.exists(f"fl:card:{1:032x}:tx")
        assert client.zcard(f"fl:card:{2:032x}:tx") == 9
    (entry,) = [
        r
        for r in lake.load_table("audit.actions").scan().to_arrow().to_pylist()
        if r["action"] == "erase"
    ]
    online = json.loads(entry["details"])["online_store"]
    assert online["profiles_removed"] == 1 and online["members_removed"] >= 9 * len(stages)
