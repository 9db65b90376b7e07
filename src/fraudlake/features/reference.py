"""Row-by-row reference implementation of the features: slow, plain, obviously correct.

It exists to check the fast engines: for each transaction it walks the entity's other
transactions and applies DESIGN.md's rules literally. Use it on small data only
(quadratic in the number of transactions per entity).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np

from fraudlake.features.definitions import FeatureSet, window_delta
from fraudlake.features.request_time import request_features


def reference_features(
    transactions: list[dict[str, Any]],
    customers: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    features: FeatureSet,
) -> dict[int, dict[str, float]]:
    """Feature values per transaction id, from rows as dicts (lake schemas, aware datetimes)."""
    profile = {c["customer_id"]: c for c in customers}
    reported: dict[int, dt.datetime] = {}
    for label in labels:
        if label["is_fraud"]:
            tid = label["transaction_id"]
            reported[tid] = min(label["reported_at"], reported.get(tid, label["reported_at"]))

    by_entity: dict[tuple[str, tuple[Any, ...]], list[dict[str, Any]]] = defaultdict(list)
    keyed = {(d.entity, d.keys) for d in features.windows + features.label_windows}
    for tx in transactions:
        for entity, keys in keyed:
            by_entity[(entity, tuple(tx[k] for k in keys))].append(tx)

    out: dict[int, dict[str, float]] = {}
    for tx in transactions:
        t = tx["event_ts"]
        row: dict[str, float] = {}
        for d in features.windows:
            history = by_entity[(d.entity, tuple(tx[k] for k in d.keys))]
            for w in d.windows:
                # Strictly earlier, inside [t - W, t): same-instant rows are excluded.
                inside = [o for o in history if t - window_delta(w) <= o["event_ts"] < t]
                count = len(inside)
                total = sum(round(o["amount"] * 100) for o in inside) / 100.0
                for agg in d.aggregations:
                    row[d.feature_name(agg, w)] = {
                        "count": float(count),
                        "sum": total,
                        "mean": total / count if count else 0.0,
                        "first": 1.0 if count == 0 else 0.0,
                    }[agg]
        for ld in features.label_windows:
            history = by_entity[(ld.entity, tuple(tx[k] for k in ld.keys))]
            lag = window_delta(ld.delay)
            for w in ld.windows:
                inside = [
                    o for o in history if t - lag - window_delta(w) <= o["event_ts"] < t - lag
                ]
                known = [
                    o
                    for o in inside
                    if o["transaction_id"] in reported and reported[o["transaction_id"]] < t
                ]
                for label_agg in ld.aggregations:
                    row[ld.feature_name(label_agg, w)] = {
                        "fraud_count": float(len(known)),
                        "fraud_rate": len(known) / len(inside) if inside else 0.0,
                    }[label_agg]
        cust = profile[tx["customer_id"]]
        event_us = (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
        inputs = {
            "amount": np.array([tx["amount"]]),
            "event_us": np.array([event_us], dtype=np.int64),
            "terminal_x": np.array([tx["terminal_x"]]),
            "terminal_y": np.array([tx["terminal_y"]]),
            "home_x": np.array([cust["home_x"]]),
            "home_y": np.array([cust["home_y"]]),
            "mean_amount": np.array([cust["mean_amount"]]),
            "std_amount": np.array([cust["std_amount"]]),
        }
        for name, value in request_features(inputs, features.request).items():
            row[name] = float(value[0])
        out[tx["transaction_id"]] = {name: row[name] for name in features.names}
    return out
