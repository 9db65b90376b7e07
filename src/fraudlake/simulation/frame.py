"""Columnar transactions in NumPy, and the fraud scenario codes they carry.

The simulator works on :class:`TxFrame` (parallel NumPy columns) and converts to Arrow
once at the end; every step is a vectorised operation on whole columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from enum import IntEnum

import numpy as np

from fraudlake.simulation.arrays import BoolArray, FloatArray, IntArray

#: ``incident`` of a transaction no incident explains (genuine, or high amount).
NO_INCIDENT = -1


class Scenario(IntEnum):
    """Why a transaction is fraud; the order is the precedence (first marker wins)."""

    NONE = 0
    HIGH_AMOUNT = 1
    COMPROMISED_TERMINALS = 2
    COMPROMISED_CARDS = 3
    CARD_TESTING = 4
    DRIFT_NIGHT = 5

    @property
    def label(self) -> str:
        """Name used in ``fraud_scenario`` columns: ``"none"``, ``"high_amount"``, ..."""
        return self.name.lower()


#: ``fraud_scenario`` strings indexed by scenario code.
SCENARIO_LABELS: tuple[str, ...] = tuple(s.label for s in Scenario)


@dataclass(frozen=True)
class TxFrame:
    """Transactions as parallel columns of equal length.

    ``day`` is the day index, ``ts_us`` the event time (UTC microseconds), ``customer``,
    ``card`` and ``terminal`` are population row ids, ``scenario`` a :class:`Scenario`
    code and ``incident`` the id of the incident that made the row fraud
    (:data:`NO_INCIDENT` if none).
    """

    day: IntArray
    ts_us: IntArray
    customer: IntArray
    card: IntArray
    terminal: IntArray
    amount: FloatArray
    scenario: IntArray
    incident: IntArray

    def __len__(self) -> int:
        return len(self.ts_us)

    @classmethod
    def empty(cls) -> TxFrame:
        """A frame without rows."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none, none, np.zeros(0, dtype=np.float64), none, none)

    @classmethod
    def concat(cls, frames: Sequence[TxFrame]) -> TxFrame:
        """Rows of ``frames`` one after the other (an empty frame if none given)."""
        if not frames:
            return cls.empty()
        return cls(*(np.concatenate([getattr(fr, f.name) for fr in frames]) for f in fields(cls)))

    def take(self, rows: IntArray) -> TxFrame:
        """The rows at positions ``rows``, in that order."""
        return TxFrame(*(getattr(self, f.name)[rows] for f in fields(self)))

    def mark(
        self,
        candidates: BoolArray,
        scenario: Scenario,
        incident: IntArray | int = NO_INCIDENT,
    ) -> tuple[TxFrame, BoolArray]:
        """Mark the ``candidates`` not yet fraud as ``scenario`` (first marker wins).

        ``incident`` is one id for all rows, or one per row (only the marked rows' values
        are used). Returns the new frame and the mask of the rows this call marked.
        """
        marked = candidates & (self.scenario == Scenario.NONE)
        new_scenario = np.where(marked, np.int64(scenario), self.scenario)
        new_incident = np.where(marked, incident, self.incident).astype(np.int64)
        return replace(self, scenario=new_scenario, incident=new_incident), marked
