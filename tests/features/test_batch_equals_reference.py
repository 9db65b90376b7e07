"""The DuckDB engine equals the row-by-row reference, edges included."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from fraudlake.features.batch import FeatureInputError, compute_features
from fraudlake.features.definitions import FeatureSet
from fraudlake.features.reference import reference_features
from tests.features.data import T0, make_customers, make_labels, make_transactions, random_dataset


def _both(
    tx: pa.Table, customers: pa.Table, labels: pa.Table, fs: FeatureSet
) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, float]]]:
    fast = compute_features(tx, customers, labels, fs).to_pylist()
    ref = reference_features(tx.to_pylist(), customers.to_pylist(), labels.to_pylist(), fs)
    return {r["transaction_id"]: {n: r[n] for n in fs.names} for r in fast}, ref


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_dense_data_matches_reference(seed: int, feature_set: FeatureSet) -> None:
    fast, ref = _both(*random_dataset(seed), feature_set)
    assert fast.keys() == ref.keys()
    mismatches = [
        (tid, name, fast[tid][name], ref[tid][name])
        for tid in ref
        for name in feature_set.names
        if not np.isclose(fast[tid][name], ref[tid][name], rtol=0, atol=1e-9)
    ]
    assert not mismatches, mismatches[:10]


def test_edges(feature_set: FeatureSet) -> None:
    m = dt.timedelta(minutes=1)
    tx = make_transactions(
        [
            {"event_ts": T0, "amount": 1.0},  # 0: first of the card
            {"event_ts": T0, "amount": 2.0},  # 1: same instant as 0
            {"event_ts": T0 + 10 * m, "amount": 4.0},  # 2: exactly 10 min after 0 and 1
            {"event_ts": T0 + 10 * m + dt.timedelta(microseconds=1), "amount": 8.0},  # 3
        ]
    )
    out = {
        r["transaction_id"]: r
        for r in compute_features(tx, make_customers(1), make_labels([]), feature_set).to_pylist()
    }
    assert out[0]["card_count_1h"] == 0 and out[0]["card_mean_1h"] == 0.0
    assert out[0]["customer_terminal_first_30d"] == 1.0
    # The same instant is not "strictly earlier": 1 does not see 0.
    assert out[1]["card_count_1h"] == 0
    # The window [t - 10 min, t) includes its left edge: 2 sees 0 and 1.
    assert out[2]["card_count_10m"] == 2 and out[2]["card_sum_10m"] == 3.0
    # One microsecond later, 0 and 1 fall out of the 10-minute window.
    assert out[3]["card_count_10m"] == 1 and out[3]["card_sum_10m"] == 4.0
    assert out[3]["card_count_1h"] == 3 and out[3]["card_mean_1h"] == pytest.approx(7 / 3)
    assert out[3]["customer_terminal_first_30d"] == 0.0


def test_label_known_only_when_reported_before(feature_set: FeatureSet) -> None:
    h = dt.timedelta(hours=1)
    tx = make_transactions([{"event_ts": T0 + i * h} for i in range(4)])
    # Transaction 0 is fraud, reported exactly at transaction 2's instant.
    labels = make_labels([{"transaction_id": 0, "reported_at": T0 + 2 * h}])
    out = compute_features(tx, make_customers(1), labels, feature_set).to_pylist()
    counts = [r["terminal_fraud_count_7d"] for r in out]
    assert counts == [0.0, 0.0, 0.0, 1.0]  # reported_at == t is not "before t"
    assert out[3]["terminal_fraud_rate_7d"] == pytest.approx(1 / 3)


def test_delayed_label_window_edges(feature_set: FeatureSet) -> None:
    d = dt.timedelta(days=1)
    lag = dt.timedelta(days=7)
    late = T0 + lag + d  # the transaction whose features we check
    tx = make_transactions(
        [
            {"event_ts": T0},  # 0: exactly t - 7d - 1d: inside the 1d lagged window
            {"event_ts": T0 + d},  # 1: exactly t - 7d: outside (the end is exclusive)
            {"event_ts": T0 + d - dt.timedelta(microseconds=1)},  # 2: just inside
            {"event_ts": late},  # 3
        ]
    )
    labels = make_labels(
        [
            {"transaction_id": 0, "reported_at": late - dt.timedelta(hours=1)},  # known
            {"transaction_id": 1, "reported_at": late - dt.timedelta(hours=1)},  # outside
            {"transaction_id": 2, "reported_at": late},  # reported at t: not yet known
        ]
    )
    out = compute_features(tx, make_customers(1), labels, feature_set).to_pylist()
    row = next(r for r in out if r["transaction_id"] == 3)
    assert row["terminal_fraud_count_1d_lag7d"] == 1.0
    assert row["terminal_fraud_rate_1d_lag7d"] == pytest.approx(1 / 2)  # 0 and 2 in window
    # the undelayed 7d window [t - 7d, t) holds 1 (known) but neither 0 nor 2
    assert row["terminal_fraud_count_7d"] == 1.0


def test_unknown_customer_is_named(feature_set: FeatureSet) -> None:
    tx = make_transactions([{"event_ts": T0, "customer_id": 99}])
    with pytest.raises(FeatureInputError, match="customer_id 99"):
        compute_features(tx, make_customers(1), make_labels([]), feature_set)
