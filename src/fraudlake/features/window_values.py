"""How a window's raw aggregates become feature values — one formula for every engine.

Engines aggregate amounts as integer cents (exact, order-independent) and counts; these
functions turn them into the published float features. The batch engine, the reference
implementation and the stream job all call them, so floats agree to the last bit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def to_cents(amount: npt.ArrayLike) -> IntArray:
    """Amounts in currency units → integer cents (amounts carry at most 2 decimals)."""
    return np.rint(np.asarray(amount, dtype=np.float64) * 100.0).astype(np.int64)


def window_feature(aggregation: str, count: IntArray, sum_cents: IntArray) -> FloatArray:
    """Value of ``aggregation`` (count, sum, mean, first) from a window's count and sum."""
    count_f = count.astype(np.float64)
    if aggregation == "count":
        return count_f
    total = sum_cents.astype(np.float64) / 100.0
    if aggregation == "sum":
        return total
    if aggregation == "mean":
        out = np.zeros_like(total)
        np.divide(total, count_f, out=out, where=count > 0)
        return out
    if aggregation == "first":
        return (count == 0).astype(np.float64)
    raise ValueError(f"unknown window aggregation {aggregation!r}")


def label_feature(aggregation: str, fraud_count: IntArray, tx_count: IntArray) -> FloatArray:
    """Value of ``aggregation`` (fraud_count, fraud_rate) of a label window."""
    fraud_f = fraud_count.astype(np.float64)
    if aggregation == "fraud_count":
        return fraud_f
    if aggregation == "fraud_rate":
        out = np.zeros_like(fraud_f)
        np.divide(fraud_f, tx_count.astype(np.float64), out=out, where=tx_count > 0)
        return out
    raise ValueError(f"unknown label aggregation {aggregation!r}")
