"""The one-transaction formulas are bit-for-bit the batch engine's array formulas."""

from __future__ import annotations

import numpy as np
import pytest

from fraudlake.features.window_values import (
    label_feature,
    label_value,
    window_feature,
    window_value,
)


@pytest.mark.parametrize("aggregation", ["count", "sum", "mean", "first"])
def test_window_value_is_the_array_formula(aggregation: str) -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 400, 5000)
    counts[:50] = 0
    cents = rng.integers(0, 10**9, 5000) * (counts > 0)
    arrays = window_feature(aggregation, counts, cents)
    scalars = [
        window_value(aggregation, int(n), int(c)) for n, c in zip(counts, cents, strict=True)
    ]
    assert arrays.tobytes() == np.array(scalars, dtype=np.float64).tobytes()


@pytest.mark.parametrize("aggregation", ["fraud_count", "fraud_rate"])
def test_label_value_is_the_array_formula(aggregation: str) -> None:
    rng = np.random.default_rng(4)
    tx = rng.integers(0, 900, 5000)
    fraud = np.minimum(rng.integers(0, 40, 5000), tx)
    arrays = label_feature(aggregation, fraud, tx)
    scalars = [label_value(aggregation, int(f), int(n)) for f, n in zip(fraud, tx, strict=True)]
    assert arrays.tobytes() == np.array(scalars, dtype=np.float64).tobytes()


def test_unknown_aggregations_are_named() -> None:
    with pytest.raises(ValueError, match="median"):
        window_value("median", 1, 1)
    with pytest.raises(ValueError, match="median"):
        label_value("median", 1, 1)
