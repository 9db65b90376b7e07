"""Fraud scenarios: which transactions are fraud, and the incidents behind them.

Four scenarios from ``params.scenarios`` plus the drift pattern, applied in this order;
a transaction keeps the first scenario that marked it:

(a) ``high_amount`` — :func:`high_amount`
(b) ``compromised_terminals`` — :func:`compromised_terminals`
(c) ``compromised_cards`` — :func:`compromised_cards`
(d) ``card_testing`` — :func:`card_testing` (injects new transactions)
(e) ``drift_night`` — :func:`drift_night` (injects new transactions, drift only)

(a) to (c) act on genuine traffic as in the Fraud Detection Handbook; (d) and (e) add
transactions made by fraudsters, all fraud. Every scenario but (a) records
:class:`Incidents` (what was compromised, from when to when) so tests and evaluation can
check each window. While marking, an incident id is its position in the incidents of
all scenarios concatenated; :func:`renumber_by_day` then orders them by start day.
Each day draws from its own stream (see :mod:`fraudlake.simulation.streams`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from fraudlake.params import (
    CardTestingScenario,
    CompromisedCardsScenario,
    CompromisedTerminalsScenario,
    Drift,
    HighAmountScenario,
)
from fraudlake.simulation.arrays import BoolArray, FloatArray, IntArray
from fraudlake.simulation.frame import NO_INCIDENT, Scenario, TxFrame
from fraudlake.simulation.population import Population
from fraudlake.simulation.streams import Stream, stream
from fraudlake.simulation.timeline import US_PER_DAY, US_PER_SECOND, Timeline

_US_PER_MS = 1_000
_MS_PER_DAY = US_PER_DAY // _US_PER_MS
#: Card testing uses between 1 and this many terminals per burst.
MAX_TERMINALS_PER_BURST = 3
#: drift_night: night window (from midnight), amount range, "far from home" distance.
NIGHT_END_S = 5 * 3600
NIGHT_AMOUNT_RANGE = (50.0, 200.0)
FAR_FROM_HOME_SHARE = 0.25  # of grid_size
_FAR_CANDIDATES = 16


@dataclass(frozen=True)
class Incidents:
    """Compromise events as parallel columns.

    ``day`` is the day index the incident starts on; ``terminal`` / ``card`` are
    population ids (:data:`NO_INCIDENT` when not applicable); the incident is active on
    ``[start_us, end_us)``; ``reported`` says whether the fraud-intel feed picks it up
    (compromised terminals only).
    """

    day: IntArray
    scenario: IntArray
    terminal: IntArray
    card: IntArray
    start_us: IntArray
    end_us: IntArray
    reported: BoolArray

    def __len__(self) -> int:
        return len(self.scenario)

    @classmethod
    def concat(cls, parts: Sequence[Incidents]) -> Incidents:
        """Incidents of ``parts`` one after the other."""
        if not parts:
            return cls(
                *(
                    np.zeros(0, dtype=np.bool_ if f.name == "reported" else np.int64)
                    for f in fields(cls)
                )
            )
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, rows: IntArray) -> Incidents:
        """The incidents at positions ``rows``, in that order."""
        return Incidents(*(getattr(self, f.name)[rows] for f in fields(self)))


def renumber_by_day(incidents: Incidents, frame: TxFrame) -> tuple[Incidents, TxFrame]:
    """Order incidents by (start day, scenario) and renumber the ids ``frame`` refers to.

    Why: ids then only depend on the days up to the incident's start, so a longer run
    keeps the ids of a shorter one (scenario functions number their incidents in blocks,
    whose offsets grow with the number of days).
    """
    order = np.lexsort((np.arange(len(incidents)), incidents.scenario, incidents.day))
    new_id = np.empty(len(incidents), dtype=np.int64)
    new_id[order] = np.arange(len(incidents), dtype=np.int64)
    has = frame.incident != NO_INCIDENT
    incident = frame.incident.copy()
    incident[has] = new_id[frame.incident[has]]
    return incidents.take(order), replace(frame, incident=incident)


def _incidents(
    scenario: Scenario,
    day: IntArray,
    start_us: IntArray,
    end_us: IntArray,
    *,
    terminal: IntArray | None = None,
    card: IntArray | None = None,
    reported: BoolArray | None = None,
) -> Incidents:
    n = len(start_us)
    none = np.full(n, NO_INCIDENT, dtype=np.int64)
    return Incidents(
        day=day.astype(np.int64),
        scenario=np.full(n, scenario, dtype=np.int64),
        terminal=none if terminal is None else terminal.astype(np.int64),
        card=none if card is None else card.astype(np.int64),
        start_us=start_us.astype(np.int64),
        end_us=end_us.astype(np.int64),
        reported=np.zeros(n, dtype=np.bool_) if reported is None else reported,
    )


def high_amount(frame: TxFrame, params: HighAmountScenario) -> TxFrame:
    """(a) Every transaction with ``amount > threshold`` is fraud (handbook scenario 1).

    Applied to genuine amounts (after drift scaling, before any other scenario).
    """
    if not params.enabled:
        return frame
    return frame.mark(frame.amount > params.threshold, Scenario.HIGH_AMOUNT)[0]


def compromised_terminals(
    frame: TxFrame,
    pop: Population,
    params: CompromisedTerminalsScenario,
    coverage: float,
    seed: int,
    timeline: Timeline,
    first_incident: int,
) -> tuple[TxFrame, Incidents]:
    """(b) Each day ``per_day`` distinct random terminals are compromised; every
    transaction at such a terminal on that day and the ``duration_days - 1`` following
    days is fraud (handbook scenario 2: a skimmed terminal).

    Each incident is also drawn for the fraud-intel feed with probability ``coverage``.
    """
    if not params.enabled or params.per_day == 0:
        return frame, Incidents.concat([])
    per_day = min(params.per_day, pop.n_terminals)
    terminals, days, reported = [], [], []
    for day in range(timeline.days):
        rng = stream(seed, Stream.COMPROMISED_TERMINALS, day)
        terminals.append(rng.choice(pop.n_terminals, per_day, replace=False))
        reported.append(rng.random(per_day) < coverage)
        days.append(np.full(per_day, day, dtype=np.int64))
    terminal = np.concatenate(terminals).astype(np.int64)
    start_day = np.concatenate(days)
    incidents = _incidents(
        Scenario.COMPROMISED_TERMINALS,
        start_day,
        timeline.start_us + start_day * US_PER_DAY,
        timeline.start_us + (start_day + params.duration_days) * US_PER_DAY,
        terminal=terminal,
        reported=np.concatenate(reported),
    )
    covering = covering_incident(
        frame.day,
        frame.terminal,
        start_day,
        terminal,
        params.duration_days,
        first_incident,
        pop.n_terminals,
        timeline.days,
    )
    marked, _ = frame.mark(covering != NO_INCIDENT, Scenario.COMPROMISED_TERMINALS, covering)
    return marked, incidents


def compromised_cards(
    frame: TxFrame,
    pop: Population,
    params: CompromisedCardsScenario,
    seed: int,
    timeline: Timeline,
    first_incident: int,
) -> tuple[TxFrame, Incidents]:
    """(c) Each day ``per_day`` distinct random cards are compromised; on that day and the
    ``duration_days - 1`` following days each of the card's transactions is fraud with
    probability ``share``, its amount multiplied by ``amount_factor`` (handbook scenario
    3, per card instead of per customer, Bernoulli instead of an exact third).

    ``frame`` must be grouped by day in ascending order (as genuine traffic is): the
    share draws of day ``d`` come from day ``d``'s stream, one per transaction of day d.
    Transactions already fraud keep their scenario and amount.
    """
    if not params.enabled or params.per_day == 0:
        return frame, Incidents.concat([])
    if np.any(frame.day[1:] < frame.day[:-1]):
        raise ValueError("compromised_cards needs transactions grouped by ascending day")
    per_day = min(params.per_day, pop.n_cards)
    day_bounds = np.searchsorted(frame.day, np.arange(timeline.days + 1))
    cards, days, draws = [], [], []
    for day in range(timeline.days):
        rng = stream(seed, Stream.COMPROMISED_CARDS, day)
        cards.append(rng.choice(pop.n_cards, per_day, replace=False))
        days.append(np.full(per_day, day, dtype=np.int64))
        draws.append(rng.random(int(day_bounds[day + 1] - day_bounds[day])))
    card = np.concatenate(cards).astype(np.int64)
    start_day = np.concatenate(days)
    incidents = _incidents(
        Scenario.COMPROMISED_CARDS,
        start_day,
        timeline.start_us + start_day * US_PER_DAY,
        timeline.start_us + (start_day + params.duration_days) * US_PER_DAY,
        card=card,
    )
    covering = covering_incident(
        frame.day,
        frame.card,
        start_day,
        card,
        params.duration_days,
        first_incident,
        pop.n_cards,
        timeline.days,
    )
    selected = (covering != NO_INCIDENT) & (np.concatenate(draws) < params.share)
    marked_frame, marked = frame.mark(selected, Scenario.COMPROMISED_CARDS, covering)
    amount = np.where(marked, np.round(frame.amount * params.amount_factor, 2), frame.amount)
    return replace(marked_frame, amount=amount), incidents


def covering_incident(
    tx_day: IntArray,
    tx_entity: IntArray,
    start_day: IntArray,
    entity: IntArray,
    duration_days: int,
    first_incident: int,
    n_entities: int,
    n_days: int,
) -> IntArray:
    """Id of the incident covering each transaction, or :data:`NO_INCIDENT`.

    Incident ``i`` (id ``first_incident + i``) covers entity ``entity[i]`` on days
    ``start_day[i] .. start_day[i] + duration_days - 1``. When several cover the same
    (entity, day), the latest-starting one wins. Sparse: a sorted array of covered
    ``day * n_entities + entity`` keys, looked up with a binary search, so memory
    grows with the incidents, not with days x entities.
    """
    length = np.minimum(start_day + duration_days, n_days) - start_day
    owner = np.repeat(np.arange(len(start_day)), length)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(length) - length, length)
    keys = (start_day[owner] + offset) * n_entities + entity[owner]
    ids = owner + first_incident
    order = np.lexsort((ids, keys))
    keys, ids = keys[order], ids[order]
    last = np.ones(len(keys), dtype=np.bool_)
    last[:-1] = keys[1:] != keys[:-1]
    keys, ids = keys[last], ids[last]
    if len(keys) == 0:
        return np.full(len(tx_day), NO_INCIDENT, dtype=np.int64)

    tx_keys = tx_day * n_entities + tx_entity
    pos = np.minimum(np.searchsorted(keys, tx_keys), len(keys) - 1)
    return np.where(keys[pos] == tx_keys, ids[pos], NO_INCIDENT).astype(np.int64)


def card_testing(
    pop: Population,
    params: CardTestingScenario,
    seed: int,
    timeline: Timeline,
    first_incident: int,
) -> tuple[TxFrame, Incidents]:
    """(d) Card testing: each day ``bursts_per_day`` bursts on random cards. A burst is
    ``min_tx .. max_tx`` transactions (uniform) of ``0.01 .. max_amount`` (uniform in
    cents) within ``span_minutes`` minutes, at 1 to :data:`MAX_TERMINALS_PER_BURST`
    random terminals anywhere on the grid; all fraud. A burst never crosses midnight.
    """
    if not params.enabled or params.bursts_per_day == 0:
        return TxFrame.empty(), Incidents.concat([])
    span_ms = min(params.span_minutes * 60_000, _MS_PER_DAY)
    max_cents = round(params.max_amount * 100)
    frames: list[TxFrame] = []
    parts: list[Incidents] = []
    for day in range(timeline.days):
        rng = stream(seed, Stream.CARD_TESTING, day)
        n_bursts = params.bursts_per_day
        card = rng.integers(0, pop.n_cards, n_bursts)
        size = rng.integers(params.min_tx, params.max_tx + 1, n_bursts)
        start_ms = rng.integers(0, _MS_PER_DAY - span_ms + 1, n_bursts)
        burst_terminals = rng.integers(0, pop.n_terminals, (n_bursts, MAX_TERMINALS_PER_BURST))
        n_terminals = rng.integers(1, MAX_TERMINALS_PER_BURST + 1, n_bursts)

        burst = np.repeat(np.arange(n_bursts), size)
        n = len(burst)
        ms = start_ms[burst] + rng.integers(0, span_ms, n)
        column = rng.integers(0, n_terminals[burst])
        cents = rng.integers(1, max_cents + 1, n)
        day_start = timeline.day_start_us(day)
        first = first_incident + day * n_bursts
        frames.append(
            TxFrame(
                day=np.full(n, day, dtype=np.int64),
                ts_us=day_start + ms * _US_PER_MS,
                customer=pop.card_owner[card[burst]],
                card=card[burst],
                terminal=burst_terminals[burst, column],
                amount=cents / 100,
                scenario=np.full(n, Scenario.CARD_TESTING, dtype=np.int64),
                incident=first + burst,
            )
        )
        start_us = day_start + start_ms * _US_PER_MS
        parts.append(
            _incidents(
                Scenario.CARD_TESTING,
                np.full(n_bursts, day),
                start_us,
                start_us + span_ms * _US_PER_MS,
                card=card,
            )
        )
    return TxFrame.concat(frames), Incidents.concat(parts)


def drift_night(
    pop: Population,
    drift: Drift,
    seed: int,
    timeline: Timeline,
    first_incident: int,
) -> tuple[TxFrame, Incidents]:
    """(e) Drift's new fraud pattern: from ``drift.start_day`` on, each day
    ``new_pattern_per_day`` distinct random cards get one night-time transaction
    (00:00 to 05:00) of ``U(50, 200)`` at a terminal far from the owner's home (at least
    :data:`FAR_FROM_HOME_SHARE` x grid_size away whenever one of
    :data:`_FAR_CANDIDATES` random terminals is, else the farthest of them); all fraud.

    The incident of each event spans the night it happened in.
    """
    if not drift.enabled or drift.new_pattern_per_day == 0:
        return TxFrame.empty(), Incidents.concat([])
    frames: list[TxFrame] = []
    parts: list[Incidents] = []
    per_day = min(drift.new_pattern_per_day, pop.n_cards)
    for day in range(drift.start_day, timeline.days):
        rng = stream(seed, Stream.DRIFT_NIGHT, day)
        card = rng.choice(pop.n_cards, per_day, replace=False).astype(np.int64)
        ms = rng.integers(0, NIGHT_END_S * 1000, per_day)
        low, high = NIGHT_AMOUNT_RANGE
        amount = np.round(rng.uniform(low, high, per_day), 2)
        customer = pop.card_owner[card]
        terminal = far_terminals(rng, pop, customer)
        day_start = timeline.day_start_us(day)
        first = first_incident + len(parts) * per_day
        frames.append(
            TxFrame(
                day=np.full(per_day, day, dtype=np.int64),
                ts_us=day_start + ms * _US_PER_MS,
                customer=customer,
                card=card,
                terminal=terminal,
                amount=amount,
                scenario=np.full(per_day, Scenario.DRIFT_NIGHT, dtype=np.int64),
                incident=first + np.arange(per_day, dtype=np.int64),
            )
        )
        start = np.full(per_day, day_start, dtype=np.int64)
        parts.append(
            _incidents(
                Scenario.DRIFT_NIGHT,
                np.full(per_day, day),
                start,
                start + NIGHT_END_S * US_PER_SECOND,
                card=card,
            )
        )
    return TxFrame.concat(frames), Incidents.concat(parts)


def far_terminals(rng: np.random.Generator, pop: Population, customer: IntArray) -> IntArray:
    """For each customer, a random terminal far from home (see :func:`drift_night`)."""
    candidates = rng.integers(0, pop.n_terminals, (len(customer), _FAR_CANDIDATES))
    distance: FloatArray = np.hypot(
        pop.terminal_x[candidates] - pop.home_x[customer, None],
        pop.terminal_y[candidates] - pop.home_y[customer, None],
    )
    far = distance >= FAR_FROM_HOME_SHARE * pop.grid_size
    pick = np.where(far.any(axis=1), far.argmax(axis=1), distance.argmax(axis=1))
    return candidates[np.arange(len(customer)), pick].astype(np.int64)
