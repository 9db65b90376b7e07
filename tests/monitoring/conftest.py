"""Synthetic feature frames for the drift tests: ten numeric features of mixed shapes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pytest

FEATURES = [f"f{i}" for i in range(10)]

#: Builds a frame of ``n`` rows; the features named in ``shifted`` move clearly.
MakeFrame = Callable[..., pd.DataFrame]


def _column(rng: np.random.Generator, i: int, n: int, shifted: bool) -> np.ndarray:
    """Feature ``i``: normal, lognormal (amount-like), Poisson (count-like) or uniform."""
    match i % 4:
        case 0:
            return rng.normal(1.0 if shifted else 0.0, 1.0, n)
        case 1:
            return rng.lognormal(3.0, 1.0, n) * (1.6 if shifted else 1.0)
        case 2:
            return rng.poisson(6.0 if shifted else 3.0, n).astype("float64")
        case _:
            return rng.uniform(0.3 if shifted else 0.0, 1.3 if shifted else 1.0, n)


def make_frame(
    n: int,
    seed: int,
    shifted: Iterable[str] = (),
    *,
    start: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    days: int = 7,
) -> pd.DataFrame:
    """``n`` rows of ``FEATURES`` + ``event_ts`` spread over ``days`` days from ``start``,
    a fraud label ``is_fraud`` (~5 %) and a model ``score`` that separates it."""
    rng = np.random.default_rng(seed)
    moved = set(shifted)
    frame = pd.DataFrame({f: _column(rng, i, n, f in moved) for i, f in enumerate(FEATURES)})
    offsets = np.sort(rng.uniform(0, days * 86_400, n))
    frame.insert(0, "event_ts", pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s"))
    frame["is_fraud"] = rng.random(n) < 0.05
    frame["score"] = np.clip(0.55 * frame["is_fraud"] + rng.uniform(0, 0.5, n), 0, 1)
    return frame


@pytest.fixture(scope="session")
def frame_factory() -> MakeFrame:
    return make_frame
