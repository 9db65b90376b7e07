"""A small lake with three customers over three days, several commits per table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from fraudlake import schemas
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import DECISIONS_TABLE, RAW_TABLES, ensure_table
from fraudlake.settings import Settings
from fraudlake.streaming.messages import DecisionMessage

START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
CUSTOMERS = (1, 2, 3)


def tx_id(day: int, customer: int, i: int) -> int:
    return day * 1000 + customer * 10 + i


def transactions(day: int) -> pa.Table:
    rows = [
        {
            "transaction_id": tx_id(day, c, i),
            "event_ts": START + dt.timedelta(days=day, hours=c, minutes=i),
            "customer_id": c,
            "card_id": f"{c:032x}",
            "terminal_id": 100 + i,
            "terminal_x": 1.0,
            "terminal_y": 2.0,
            "merchant_category": "grocery",
            "amount": 10.0 * (i + 1),
            "currency": "EUR",
        }
        for c in CUSTOMERS
        for i in range(3)
    ]
    return pa.Table.from_pylist(rows, schema=schemas.TRANSACTIONS)


def customers() -> pa.Table:
    rows = [
        {
            "customer_id": c,
            "home_x": 1.0,
            "home_y": 1.0,
            "mean_amount": 20.0,
            "std_amount": 5.0,
            "mean_tx_per_day": 3.0,
            "segment": "retail",
            "region": "north",
            "n_cards": 1,
            "profile_date": START.date(),
        }
        for c in CUSTOMERS
    ]
    return pa.Table.from_pylist(rows, schema=schemas.CUSTOMERS)


def labels(day: int) -> pa.Table:
    rows = [
        {
            "transaction_id": tx_id(day, c, 0),
            "is_fraud": c == 1,
            "fraud_scenario": "stolen card" if c == 1 else "",
            "reported_at": START + dt.timedelta(days=day + 2),
        }
        for c in CUSTOMERS
    ]
    return pa.Table.from_pylist(rows, schema=schemas.LABELS)


def decision_row(transaction_id: int, customer: int | None, version: str = "1") -> dict:
    message = DecisionMessage.model_validate(
        {
            "transaction_id": transaction_id,
            "customer_id": customer,
            "score": 0.93,
            "decision": "decline",
            "model_name": "fraud-detector",
            "model_version": version,
            "model_alias": "champion",
            "reasons": [{"feature": "amount", "value": 30.0, "contribution": 1.2}],
            "features": {"amount": 30.0, "card_count_1h": 4.0},
            "decided_at": START + dt.timedelta(days=3),
        }
    )
    return message.to_row()


def decisions() -> pa.Table:
    # Customer 1's last decision comes without customer_id (an older producer): found by
    # its transaction id.
    rows = [decision_row(tx_id(0, c, 1), c) for c in CUSTOMERS]
    rows.append(decision_row(tx_id(1, 1, 2), None))
    return pa.Table.from_pylist(rows, schema=schemas.DECISIONS)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("FRAUDLAKE_HOME", str(home))
    monkeypatch.setenv("FRAUDLAKE_RUN_ID", "test:audit")
    monkeypatch.delenv("FRAUDLAKE_REDIS_URL", raising=False)  # a developer's stack: not ours
    return Settings(home=home)


@pytest.fixture
def lake(settings: Settings) -> Catalog:
    """raw.transactions (3 days, 3 commits, then day 1 restated), raw.customers, raw.labels
    (2 commits), raw.fraud_intel (no customer data), audit.decisions."""
    catalog = open_catalog(settings)
    tx = ensure_table(catalog, RAW_TABLES["transactions"])
    for day in range(3):
        tx.append(transactions(day))
    tx.overwrite(
        transactions(1),
        overwrite_filter=f"event_ts >= '{(START + dt.timedelta(days=1)).isoformat()}'"
        f" and event_ts < '{(START + dt.timedelta(days=2)).isoformat()}'",
    )
    ensure_table(catalog, RAW_TABLES["customers"]).append(customers())
    lab = ensure_table(catalog, RAW_TABLES["labels"])
    for day in range(2):
        lab.append(labels(day))
    intel = ensure_table(catalog, RAW_TABLES["fraud_intel"])
    intel.append(
        pa.Table.from_pylist(
            [
                {
                    "terminal_id": 100,
                    "compromised_from": START,
                    "reported_at": START + dt.timedelta(days=1),
                    "source": "feed",
                }
            ],
            schema=schemas.FRAUD_INTEL,
        )
    )
    ensure_table(catalog, DECISIONS_TABLE).append(decisions())
    return catalog
