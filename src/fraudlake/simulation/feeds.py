"""The delayed feeds derived from the truth: investigation labels and fraud intel.

Both only contain what is known by the end of the simulation: rows whose ``reported_at``
falls at or after midnight after the last day are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudlake.params import FraudIntel, LabelDelay
from fraudlake.simulation.arrays import IntArray
from fraudlake.simulation.frame import Scenario, TxFrame
from fraudlake.simulation.scenarios import Incidents
from fraudlake.simulation.streams import Stream, stream
from fraudlake.simulation.timeline import SECONDS_PER_DAY, US_PER_DAY, US_PER_SECOND, Timeline


@dataclass(frozen=True)
class Labels:
    """Confirmed frauds: ``transaction`` ids (row positions), scenario codes, report times."""

    transaction: IntArray
    scenario: IntArray
    reported_us: IntArray


@dataclass(frozen=True)
class IntelReports:
    """Fraud-intel rows: terminal ids, compromise start and report time (UTC us)."""

    terminal: IntArray
    compromised_from_us: IntArray
    reported_us: IntArray


def labels(frame: TxFrame, delay: LabelDelay, seed: int, timeline: Timeline) -> Labels:
    """One label per fraud transaction of ``frame`` (sorted by event time; row position =
    transaction id), reported ``U{delay_days_min * 86400 .. delay_days_max * 86400}``
    seconds after the event. Sorted by (reported_at, transaction id).

    The delays of day ``d``'s frauds come from day ``d``'s stream, so they do not move
    when other days change.
    """
    fraud = np.flatnonzero(frame.scenario != Scenario.NONE)
    fraud_day = frame.day[fraud]
    bounds = np.searchsorted(fraud_day, np.arange(timeline.days + 1))
    low = delay.delay_days_min * SECONDS_PER_DAY
    high = delay.delay_days_max * SECONDS_PER_DAY
    delays = [
        stream(seed, Stream.LABELS, day).integers(low, high + 1, int(bounds[day + 1] - bounds[day]))
        for day in range(timeline.days)
    ]
    reported = frame.ts_us[fraud] + np.concatenate(delays).astype(np.int64) * US_PER_SECOND
    known = reported < timeline.end_us
    fraud, reported = fraud[known], reported[known]
    order = np.lexsort((fraud, reported))
    fraud = fraud[order]
    return Labels(fraud.astype(np.int64), frame.scenario[fraud], reported[order])


def intel_reports(incidents: Incidents, intel: FraudIntel, timeline: Timeline) -> IntelReports:
    """Compromised terminals the intel feed picked up (``incidents.reported``), reported
    ``report_delay_days`` after the compromise started. Sorted by (reported_at, terminal).
    """
    picked = (incidents.scenario == Scenario.COMPROMISED_TERMINALS) & incidents.reported
    start = incidents.start_us[picked]
    terminal = incidents.terminal[picked]
    reported = start + intel.report_delay_days * US_PER_DAY
    known = reported < timeline.end_us
    start, terminal, reported = start[known], terminal[known], reported[known]
    order = np.lexsort((terminal, reported))
    return IntelReports(terminal[order], start[order], reported[order])
