"""Small, dense transaction sets that exercise every window edge."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from fraudlake import schemas

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def make_customers(n: int) -> pa.Table:
    rng = np.random.default_rng(1)
    mean = rng.uniform(5, 100, n).round(2)
    return pa.Table.from_pylist(
        [
            {
                "customer_id": i,
                "home_x": float(rng.uniform(0, 100)),
                "home_y": float(rng.uniform(0, 100)),
                "mean_amount": float(mean[i]),
                "std_amount": float(mean[i] / 2),
                "mean_tx_per_day": 2.0,
                "segment": "mass",
                "region": "north-west",
                "n_cards": 1,
                "profile_date": T0.date(),
            }
            for i in range(n)
        ],
        schema=schemas.CUSTOMERS,
    )


def make_transactions(rows: list[dict[str, object]]) -> pa.Table:
    full = []
    for i, row in enumerate(rows):
        full.append(
            {
                "transaction_id": i,
                "customer_id": 0,
                "card_id": "c0",
                "terminal_id": 0,
                "terminal_x": 10.0,
                "terminal_y": 20.0,
                "merchant_category": "grocery",
                "amount": 10.0,
                "currency": "EUR",
                **row,
            }
        )
    return pa.Table.from_pylist(full, schema=schemas.TRANSACTIONS)


def make_labels(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"is_fraud": True, "fraud_scenario": "test", **r} for r in rows], schema=schemas.LABELS
    )


def random_dataset(seed: int, n: int = 1500) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Few cards and terminals, timestamps on a coarse grid so ties and exact window
    boundaries (10 min, 1 h, 1 d, 7 d apart) happen often."""
    rng = np.random.default_rng(seed)
    # Minutes on a 5-minute grid over 20 days: many same-instant and boundary pairs.
    minutes = np.sort(rng.integers(0, 20 * 24 * 12, n)) * 5
    customers = rng.integers(0, 6, n)
    rows = [
        {
            "event_ts": T0 + dt.timedelta(minutes=int(m)),
            "customer_id": int(c),
            "card_id": f"card-{c}-{rng.integers(0, 2)}",
            "terminal_id": int(rng.integers(0, 8)),
            "terminal_x": float(rng.uniform(0, 100)),
            "terminal_y": float(rng.uniform(0, 100)),
            "amount": float(np.round(rng.uniform(0, 300), 2)),
        }
        for m, c in zip(minutes, customers, strict=True)
    ]
    tx = make_transactions(rows)
    fraud_ids = rng.choice(n, size=n // 10, replace=False)
    labels = make_labels(
        [
            {
                "transaction_id": int(i),
                # Some labels land exactly on a later transaction's instant.
                "reported_at": rows[i]["event_ts"]  # type: ignore[operator]
                + dt.timedelta(minutes=5 * int(rng.integers(1, 3 * 24 * 12))),
            }
            for i in fraud_ids
        ]
    )
    return tx, make_customers(6), labels
