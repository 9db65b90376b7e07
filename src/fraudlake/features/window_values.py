"""How a window's raw aggregates become feature values — one formula for every engine.

Engines aggregate amounts as integer cents (exact, order-independent) and counts; these
functions turn them into the published float features. The batch engine works on arrays,
the stream engines and the online reader on one transaction at a time; the scalar forms
are the same IEEE operations in the same order as the array forms, so floats agree to
the last bit (a test holds the two to that).
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


def window_value(aggregation: str, count: int, sum_cents: int) -> float:
    """:func:`window_feature` for one window: the same operations on Python floats."""
    if aggregation == "count":
        return float(count)
    total = float(sum_cents) / 100.0
    if aggregation == "sum":
        return total
    if aggregation == "mean":
        return total / float(count) if count > 0 else 0.0
    if aggregation == "first":
        return 1.0 if count == 0 else 0.0
    raise ValueError(f"unknown window aggregation {aggregation!r}")


def label_value(aggregation: str, fraud_count: int, tx_count: int) -> float:
    """:func:`label_feature` for one window: the same operations on Python floats."""
    if aggregation == "fraud_count":
        return float(fraud_count)
    if aggregation == "fraud_rate":
        return float(fraud_count) / float(tx_count) if tx_count > 0 else 0.0
    raise ValueError(f"unknown label aggregation {aggregation!r}")
