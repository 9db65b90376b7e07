"""Small valid batches of every kind, built through the Arrow schemas.

Every frame goes ``pa.Table.from_pylist(rows, schema=...)`` → ``to_pandas()``, the same
path the pipeline takes from Parquet/Iceberg, so the dtypes are the ones the gate meets.
Tests break a copy of a valid frame to check one failure at a time.

Tests reach the factories through the ``batches`` fixture (a :class:`Batches`), not by
importing this module: several test folders have a ``conftest.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from fraudlake import schemas
from fraudlake.validation import BatchValidator, ValidationRules

DAY = dt.date(2024, 3, 1)
T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
N_CUSTOMERS = 20


def _frame(rows: list[dict[str, object]], schema: pa.Schema) -> pd.DataFrame:
    return pa.Table.from_pylist(rows, schema=schema).to_pandas()


def make_transactions(n: int = 50, day: dt.date = DAY) -> pd.DataFrame:
    """``n`` valid staged transactions of ``day``, spread over the day, customers 0..19."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    step = dt.timedelta(seconds=86_399 // max(n, 1))
    return _frame(
        [
            {
                "transaction_id": 1_000 + i,
                "event_ts": start + i * step,
                "customer_id": i % N_CUSTOMERS,
                "card_id": f"card-{i % 7:04d}",
                "terminal_id": i % 11,
                "terminal_x": float(i % 100),
                "terminal_y": 100.0 - float(i % 100),
                "merchant_category": "grocery",
                "amount": round(5.0 + i * 1.25, 2),
                "currency": "EUR",
            }
            for i in range(n)
        ],
        schemas.TRANSACTIONS,
    )


def make_customers(n: int = N_CUSTOMERS) -> pd.DataFrame:
    """``n`` valid customer profiles with ids 0..n-1."""
    return _frame(
        [
            {
                "customer_id": i,
                "home_x": float(i * 4 % 100),
                "home_y": float(i * 7 % 100),
                "mean_amount": 20.0 + i,
                "std_amount": 10.0 + i / 2,
                "mean_tx_per_day": 2.5,
                "segment": "mass",
                "region": "north-west",
                "n_cards": 1 + i % 2,
                "profile_date": DAY,
            }
            for i in range(n)
        ],
        schemas.CUSTOMERS,
    )


def make_labels(n: int = 10, day: dt.date = DAY) -> pd.DataFrame:
    """``n`` valid fraud labels reported during ``day``."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return _frame(
        [
            {
                "transaction_id": 500 + i,
                "is_fraud": True,
                "fraud_scenario": "compromised_card",
                "reported_at": start + dt.timedelta(hours=i % 24, minutes=i),
            }
            for i in range(n)
        ],
        schemas.LABELS,
    )


def make_fraud_intel(n: int = 5, day: dt.date = DAY) -> pd.DataFrame:
    """``n`` valid intel reports during ``day`` on terminals compromised days earlier."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return _frame(
        [
            {
                "terminal_id": 40 + i,
                "compromised_from": start - dt.timedelta(days=3),
                "reported_at": start + dt.timedelta(hours=2 * i),
                "source": "issuer-network",
            }
            for i in range(n)
        ],
        schemas.FRAUD_INTEL,
    )


class Batches:
    """Valid frames per kind and the matching ``validate`` arguments."""

    day = DAY
    t0 = T0
    known_customers: frozenset[int] = frozenset(range(N_CUSTOMERS))
    transactions = staticmethod(make_transactions)
    customers = staticmethod(make_customers)
    labels = staticmethod(make_labels)
    fraud_intel = staticmethod(make_fraud_intel)

    def valid(self, kind: str) -> pd.DataFrame:
        """A fresh valid frame of ``kind``."""
        makers: dict[str, Callable[[], pd.DataFrame]] = {
            "transactions": make_transactions,
            "customers": make_customers,
            "labels": make_labels,
            "fraud_intel": make_fraud_intel,
        }
        return makers[kind]()

    def args(self, kind: str) -> dict[str, Any]:
        """The ``day``/``known_customer_ids`` keyword arguments a valid call of ``kind`` needs."""
        return {
            "day": DAY if kind in schemas.BATCH_DAY_COLUMN else None,
            "known_customer_ids": self.known_customers if kind == "transactions" else None,
        }


@pytest.fixture(scope="session")
def batches() -> Batches:
    return Batches()


@pytest.fixture(scope="session")
def rules() -> ValidationRules:
    return ValidationRules(grid_size=100.0, currency="EUR")


@pytest.fixture(scope="session")
def shared_validator(
    tmp_path_factory: pytest.TempPathFactory, rules: ValidationRules
) -> BatchValidator:
    """One validator for the many single-batch tests: set up once, as in a pipeline run."""
    return BatchValidator(tmp_path_factory.mktemp("gx-shared"), rules)


@pytest.fixture
def fresh_validator(tmp_path: Path, rules: ValidationRules) -> BatchValidator:
    """A validator of its own, for tests that inspect the stores and the Data Docs."""
    return BatchValidator(tmp_path / "gx-root", rules)
