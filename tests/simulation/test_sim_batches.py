"""``write_batches`` lays out one Parquet file per kind and day, and a truthful manifest."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fraudlake.params import SimulateParams
from fraudlake.pipeline.layout import batch_files
from fraudlake.schemas import RAW_BATCHES
from fraudlake.simulation import BatchManifest, Simulation, simulate, write_batches
from fraudlake.simulation.batches import MANIFEST_NAME


@pytest.fixture(scope="module")
def written(
    sim: Simulation, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, BatchManifest]:
    out = tmp_path_factory.mktemp("raw")
    return out, write_batches(sim, out)


def _day(path: Path) -> dt.date:
    return dt.date.fromisoformat(path.stem)


def test_one_transactions_file_per_day_with_the_declared_schema(
    written: tuple[Path, BatchManifest], sim: Simulation, params: SimulateParams
) -> None:
    out, _ = written
    files = sorted((out / "transactions").glob("*.parquet"))
    assert [_day(f) for f in files] == [
        params.start_date + dt.timedelta(days=d) for d in range(params.days)
    ]
    tables = []
    for path in files:
        table = pq.read_table(path)
        assert table.schema.equals(RAW_BATCHES["transactions"]), path
        days = pc.unique(pc.floor_temporal(table.column("event_ts"), unit="day")).to_pylist()
        assert [d.date() for d in days] == [_day(path)]
        tables.append(table)
    assert pa.concat_tables(tables).equals(sim.transactions)


@pytest.mark.parametrize("kind", ["labels", "fraud_intel"])
def test_feeds_are_filed_by_report_day(
    written: tuple[Path, BatchManifest], sim: Simulation, kind: str
) -> None:
    out, _ = written
    files = sorted((out / kind).glob("*.parquet"))
    assert files
    rows = 0
    for path in files:
        table = pq.read_table(path)
        assert table.schema.equals(RAW_BATCHES[kind]), path
        assert table.num_rows > 0  # days without rows get no file
        days = pc.unique(pc.floor_temporal(table.column("reported_at"), unit="day")).to_pylist()
        assert [d.date() for d in days] == [_day(path)]
        rows += table.num_rows
    assert rows == getattr(sim, kind).num_rows


def test_customers_file_and_manifest_counts_match(
    written: tuple[Path, BatchManifest], sim: Simulation, params: SimulateParams
) -> None:
    out, manifest = written
    customers = pq.read_table(out / "customers" / f"{params.start_date.isoformat()}.parquet")
    assert customers.equals(sim.customers)
    stored = json.loads((out / MANIFEST_NAME).read_text())
    assert BatchManifest.from_json(stored) == manifest == BatchManifest.read(out)
    assert (manifest.profile, manifest.seed, manifest.days) == ("default", params.seed, params.days)
    for kind in RAW_BATCHES:
        paths = list((out / kind).glob("*.parquet"))
        assert manifest.files[kind] == len(paths), kind
        assert manifest.rows[kind] == sum(pq.read_metadata(p).num_rows for p in paths), kind
        assert manifest.rows[kind] == getattr(sim, kind).num_rows, kind
    is_fraud = sim.truth.column("is_fraud").to_numpy()
    assert manifest.frauds == is_fraud.sum()
    assert manifest.fraud_rate == pytest.approx(is_fraud.mean())
    assert sum(manifest.fraud_rate_by_scenario.values()) == pytest.approx(manifest.fraud_rate)
    assert manifest.fraud_rate_by_scenario["card_testing"] > 0
    assert manifest.fraud_rate_by_scenario["drift_night"] == 0
    # The pipeline's reader finds every batch under the names it expects.
    assert len(batch_files(out, tuple(RAW_BATCHES))) == sum(manifest.files.values())


def test_a_rerun_replaces_stale_files_only(tmp_path: Path) -> None:
    (tmp_path / "transactions").mkdir()
    stale = tmp_path / "transactions" / "1999-01-01.parquet"
    stale.write_bytes(b"old")
    keep = tmp_path / "README.txt"
    keep.write_text("not ours")
    first = write_batches(
        simulate(SimulateParams(days=5, n_customers=200, n_terminals=400)), tmp_path
    )
    assert not stale.exists()
    assert keep.exists()
    second = write_batches(
        simulate(SimulateParams(days=3, n_customers=200, n_terminals=400)), tmp_path
    )
    assert first.files["transactions"] == 5
    assert second.files["transactions"] == 3
    assert len(list((tmp_path / "transactions").glob("*.parquet"))) == 3
    assert BatchManifest.read(tmp_path) == second


def test_rows_outside_the_days_fail_before_anything_is_deleted(
    sim: Simulation, tmp_path: Path
) -> None:
    write_batches(simulate(SimulateParams(days=2, n_customers=50, n_terminals=100)), tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    truncated = dataclasses.replace(sim, params=sim.params.model_copy(update={"days": 5}))
    with pytest.raises(ValueError, match="outside the simulated days"):
        write_batches(truncated, tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
