"""Batches land in Iceberg exactly once, partitioned by day, cards pseudonymised."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

from fraudlake import schemas
from fraudlake.lake.batches import publish_batch
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.conform import SchemaMismatchError, conform
from fraudlake.lake.snapshot_properties import BATCH_ID, RUN_PROPERTY, run_label
from fraudlake.lake.tables import RAW_TABLES, ensure_table
from fraudlake.privacy import card_id, pseudonymise_transactions
from fraudlake.settings import Settings

DAY = dt.date(2024, 1, 2)
START = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def _raw(n: int, amount: float = 10.0, first_id: int = 0) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "transaction_id": first_id + i,
                "event_ts": START + dt.timedelta(minutes=i),
                "customer_id": i % 3,
                "card_number": f"400000000000{i % 4:04d}",
                "terminal_id": i % 5,
                "terminal_x": 1.0,
                "terminal_y": 2.0,
                "merchant_category": "grocery",
                "amount": amount,
                "currency": "EUR",
            }
            for i in range(n)
        ],
        schema=schemas.RAW_TRANSACTIONS,
    )


def _day_rows() -> And:
    return And(
        GreaterThanOrEqual("event_ts", START.isoformat()),
        LessThan("event_ts", (START + dt.timedelta(days=1)).isoformat()),
    )


@pytest.fixture
def table(tmp_path: Path):  # type: ignore[no-untyped-def]
    catalog = open_catalog(Settings(home=tmp_path / "lake"))
    return ensure_table(catalog, RAW_TABLES["transactions"])


def test_table_is_partitioned_by_day_with_explicit_schema(table) -> None:  # type: ignore[no-untyped-def]
    fields = table.spec().fields
    assert [(f.name, str(f.transform)) for f in fields] == [("event_ts_day", "day")]
    assert table.schema().as_arrow().names == schemas.TRANSACTIONS.names
    assert table.schema().find_field("transaction_id").required


def test_republishing_a_batch_adds_no_duplicate(table) -> None:  # type: ignore[no-untyped-def]
    data = pseudonymise_transactions(_raw(50), b"k")
    first = publish_batch(
        table, data, batch_id="transactions/2024-01-02", content_hash="h1", batch_rows=_day_rows()
    )
    second = publish_batch(
        table, data, batch_id="transactions/2024-01-02", content_hash="h1", batch_rows=_day_rows()
    )
    assert (first.action, second.action) == ("appended", "skipped")
    assert table.refresh().scan().to_arrow().num_rows == 50
    assert table.current_snapshot().summary[BATCH_ID] == "transactions/2024-01-02"
    assert table.current_snapshot().summary[RUN_PROPERTY] == run_label()


def test_restated_batch_replaces_its_rows_only(table) -> None:  # type: ignore[no-untyped-def]
    other_day = pseudonymise_transactions(_raw(5, first_id=1000), b"k")
    other_day = other_day.set_column(
        1, "event_ts", pc.add(other_day.column("event_ts"), pa.scalar(dt.timedelta(days=1)))
    )
    publish_batch(
        table,
        other_day,
        batch_id="transactions/2024-01-03",
        content_hash="x",
        batch_rows=_day_rows(),
    )
    publish_batch(
        table,
        pseudonymise_transactions(_raw(50), b"k"),
        batch_id="transactions/2024-01-02",
        content_hash="h1",
        batch_rows=_day_rows(),
    )
    restated = publish_batch(
        table,
        pseudonymise_transactions(_raw(40, amount=12.5), b"k"),
        batch_id="transactions/2024-01-02",
        content_hash="h2",
        batch_rows=_day_rows(),
    )
    assert restated.action == "replaced"
    rows = table.refresh().scan().to_arrow()
    assert rows.num_rows == 45
    ids = rows.column("transaction_id").to_pylist()
    assert len(ids) == len(set(ids))
    day_amounts = {r["amount"] for r in rows.to_pylist() if r["transaction_id"] < 1000}
    assert day_amounts == {12.5}


def test_card_numbers_never_land(table) -> None:  # type: ignore[no-untyped-def]
    raw = _raw(8)
    data = pseudonymise_transactions(raw, b"secret")
    publish_batch(table, data, batch_id="b", content_hash="h", batch_rows=_day_rows())
    landed = table.refresh().scan().to_arrow()
    assert "card_number" not in landed.column_names
    numbers = set(raw.column("card_number").to_pylist())
    cards = set(landed.column("card_id").to_pylist())
    assert not numbers & cards
    assert cards == {card_id(n, b"secret") for n in numbers}
    assert card_id("4000000000000001", b"other") != card_id("4000000000000001", b"secret")


def test_conform_names_the_problem() -> None:
    bad = _raw(2).drop_columns(["amount"])
    with pytest.raises(SchemaMismatchError, match=r"card_number.*amount"):
        conform(bad, schemas.TRANSACTIONS, "raw.transactions")


def test_retired_batch_leaves_the_table_but_not_history(table) -> None:  # type: ignore[no-untyped-def]
    from fraudlake.lake.batches import live_batches, retire_batch

    data = pseudonymise_transactions(_raw(10), b"k")
    live = live_batches(table)
    publish_batch(table, data, batch_id="d1", content_hash="h", batch_rows=_day_rows(), live=live)
    before = table.current_snapshot().snapshot_id
    retire_batch(table, batch_id="d1", batch_rows=_day_rows(), live=live)
    assert table.refresh().scan().to_arrow().num_rows == 0
    assert live_batches(table) == {} == live
    assert table.scan(snapshot_id=before).to_arrow().num_rows == 10
    again = publish_batch(table, data, batch_id="d1", content_hash="h", batch_rows=_day_rows())
    assert again.action == "appended"
