"""Independent, reproducible random streams: one per (purpose, day).

Every random draw of the simulator comes from a generator keyed by the seed, a
:class:`Stream` purpose and, for per-day work, the day index. Why not one generator for
everything: with keyed streams, turning a knob only changes what that knob touches.
Enabling card testing leaves genuine traffic untouched, drift leaves the days before
``drift.start_day`` untouched, and simulating more days leaves the earlier days
identical (so a longer run extends a shorter one).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """What a random stream is used for; the value is part of the stream's key."""

    CUSTOMERS = 1
    TERMINALS = 2
    CARDS = 3
    GENUINE = 4
    COMPROMISED_TERMINALS = 5
    COMPROMISED_CARDS = 6
    CARD_TESTING = 7
    DRIFT_NIGHT = 8
    LABELS = 9


def stream(seed: int, purpose: Stream, day: int | None = None) -> np.random.Generator:
    """Generator for ``purpose`` (on ``day`` if given), fully determined by ``seed``.

    Raises ``ValueError`` for a negative seed (NumPy seed sequences need entropy >= 0).
    """
    if seed < 0:
        raise ValueError(f"simulate.seed must be >= 0, got {seed}")
    key = (int(purpose),) if day is None else (int(purpose), day)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
