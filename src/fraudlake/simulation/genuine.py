"""Genuine card traffic, generated the Fraud Detection Handbook's way, one day at a time.

For each day and customer (Le Borgne et al., "Transaction data simulator"):

- the number of transactions is ``Poisson(mean_tx_per_day)``;
- each time of day is ``Normal(86400 / 2, 20000)`` seconds; draws outside
  ``[0, 86400)`` are dropped (not redrawn), as in the handbook;
- each amount is ``Normal(mean_amount, std_amount)``; a negative draw is replaced by
  ``U(0, 2 * mean_amount)``; amounts are rounded to cents;
- the terminal is uniform among the terminals within reach; a customer with none
  never transacts.

Our additions: the card is uniform among the customer's cards, event times have
millisecond precision (the handbook truncates to seconds), and from
``drift.start_day`` on (when drift is enabled) amounts are scaled by
``drift.amount_shift`` and rates by ``drift.tx_rate_shift``.

The per-day loop is deliberate: each day draws from its own stream, so a day's traffic
depends only on the seed, the population and that day's drift factors.
"""

from __future__ import annotations

import numpy as np

from fraudlake.params import Drift, SimulateParams
from fraudlake.simulation.frame import NO_INCIDENT, Scenario, TxFrame
from fraudlake.simulation.population import Population
from fraudlake.simulation.streams import Stream, stream
from fraudlake.simulation.timeline import SECONDS_PER_DAY, Timeline

_TIME_MEAN_S = SECONDS_PER_DAY / 2
_TIME_STD_S = 20_000.0
_US_PER_MS = 1_000


def drift_factors(drift: Drift, day: int) -> tuple[float, float]:
    """``(amount_scale, rate_scale)`` in force on ``day`` (1, 1 before drift starts)."""
    if drift.enabled and day >= drift.start_day:
        return drift.amount_shift, drift.tx_rate_shift
    return 1.0, 1.0


def genuine_transactions(pop: Population, params: SimulateParams, timeline: Timeline) -> TxFrame:
    """Every genuine transaction of the simulation, grouped by day, unsorted within a day."""
    return TxFrame.concat(
        [
            genuine_day(
                pop,
                stream(params.seed, Stream.GENUINE, day),
                day,
                timeline.day_start_us(day),
                *drift_factors(params.drift, day),
            )
            for day in range(timeline.days)
        ]
    )


def genuine_day(
    pop: Population,
    rng: np.random.Generator,
    day: int,
    day_start_us: int,
    amount_scale: float = 1.0,
    rate_scale: float = 1.0,
) -> TxFrame:
    """One day's genuine transactions, in customer order (see the module docstring)."""
    reach = pop.terminals_in_reach
    counts = rng.poisson(pop.mean_tx_per_day * rate_scale)
    counts[reach == 0] = 0
    customer = np.repeat(np.arange(pop.n_customers, dtype=np.int64), counts)
    n = len(customer)

    seconds = rng.normal(_TIME_MEAN_S, _TIME_STD_S, n)
    mean = pop.mean_amount[customer] * amount_scale
    amount = rng.normal(mean, pop.std_amount[customer] * amount_scale)
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean[negative])
    amount = np.round(amount, 2)
    terminal = pop.reach_terminals[pop.reach_offsets[customer] + rng.integers(0, reach[customer])]
    card = pop.card_offsets[customer] + rng.integers(0, pop.cards_per_customer[customer])

    keep = (seconds >= 0) & (seconds < SECONDS_PER_DAY)
    ms = np.floor(seconds[keep] * 1000).astype(np.int64)
    kept = int(keep.sum())
    return TxFrame(
        day=np.full(kept, day, dtype=np.int64),
        ts_us=day_start_us + ms * _US_PER_MS,
        customer=customer[keep],
        card=card[keep],
        terminal=terminal[keep],
        amount=amount[keep],
        scenario=np.full(kept, Scenario.NONE, dtype=np.int64),
        incident=np.full(kept, NO_INCIDENT, dtype=np.int64),
    )
