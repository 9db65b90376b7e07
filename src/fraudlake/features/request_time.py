"""Request-time features: pure, vectorised functions of the transaction and the profile.

The same function serves the batch builder (arrays of millions of rows) and the online
scorer (arrays of one row), so the two cannot compute a request feature differently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from fraudlake.features.definitions import REQUEST_FEATURES

FloatArray = npt.NDArray[np.float64]

_US_PER_DAY = 86_400 * 1_000_000
_US_PER_HOUR = 3_600 * 1_000_000
#: Night is 00:00 up to (not including) this UTC hour.
NIGHT_END_HOUR = 6
#: 1970-01-01 was a Thursday: day index 0 → weekday 3 (Monday = 0).
_EPOCH_WEEKDAY = 3

#: Columns the request features read. ``event_us`` is event time in microseconds since
#: the Unix epoch, UTC; ``home_*``, ``mean_amount`` and ``std_amount`` come from the
#: customer's profile.
REQUEST_INPUTS = (
    "amount",
    "event_us",
    "terminal_x",
    "terminal_y",
    "home_x",
    "home_y",
    "mean_amount",
    "std_amount",
)


def hour_of(event_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """UTC hour (0-23) of event times in microseconds since the epoch."""
    return (event_us % _US_PER_DAY) // _US_PER_HOUR


def _weekday(event_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return (event_us // _US_PER_DAY + _EPOCH_WEEKDAY) % 7


def _safe_ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, 0 where den is not positive (a profile without spending history)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


_FUNCTIONS: dict[str, Callable[[Mapping[str, np.ndarray]], FloatArray]] = {
    "amount": lambda c: np.asarray(c["amount"], dtype=np.float64),
    "hour_of_day": lambda c: hour_of(c["event_us"]).astype(np.float64),
    "is_night": lambda c: (hour_of(c["event_us"]) < NIGHT_END_HOUR).astype(np.float64),
    "is_weekend": lambda c: (_weekday(c["event_us"]) >= 5).astype(np.float64),
    "distance_from_home": lambda c: np.hypot(
        c["terminal_x"] - c["home_x"], c["terminal_y"] - c["home_y"]
    ),
    "amount_vs_customer_mean": lambda c: _safe_ratio(c["amount"], c["mean_amount"]),
    "amount_zscore": lambda c: _safe_ratio(c["amount"] - c["mean_amount"], c["std_amount"]),
}
assert set(_FUNCTIONS) == set(REQUEST_FEATURES)


def request_features(columns: Mapping[str, np.ndarray], names: list[str]) -> dict[str, FloatArray]:
    """Compute the named request features from equal-length arrays of REQUEST_INPUTS."""
    missing = [c for c in REQUEST_INPUTS if c not in columns]
    if missing:
        raise KeyError(f"request features need columns {missing}")
    return {name: _FUNCTIONS[name](columns) for name in names}
