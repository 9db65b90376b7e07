"""``simulate()``: population, genuine traffic, fraud scenarios, feeds, Arrow tables."""

from __future__ import annotations

import numpy as np

from fraudlake.params import SimulateParams
from fraudlake.simulation.arrow_tables import (
    customers_table,
    fraud_intel_table,
    incidents_table,
    labels_table,
    terminals_table,
    transactions_table,
    truth_table,
)
from fraudlake.simulation.feeds import intel_reports, labels
from fraudlake.simulation.frame import TxFrame
from fraudlake.simulation.genuine import genuine_transactions
from fraudlake.simulation.population import build_population
from fraudlake.simulation.profiles import handbook_params
from fraudlake.simulation.result import Simulation
from fraudlake.simulation.scenarios import (
    Incidents,
    card_testing,
    compromised_cards,
    compromised_terminals,
    drift_night,
    high_amount,
    renumber_by_day,
)
from fraudlake.simulation.timeline import Timeline


def simulate(params: SimulateParams) -> Simulation:
    """Simulate ``params.days`` days of card traffic with frauds, labels and intel.

    Deterministic: the same parameters give equal tables. ``profile == "handbook"``
    first replaces ``params`` by :func:`handbook_params`; ``Simulation.params`` holds
    what was used. Vectorised over customers and transactions (loops run over days
    only). Raises ``ValueError`` naming the key when parameters are inconsistent.
    """
    if params.profile == "handbook":
        params = handbook_params(params)
    check_params(params)
    seed = params.seed
    scenarios = params.scenarios
    timeline = Timeline(params.start_date, params.days)
    pop = build_population(params)

    frame = genuine_transactions(pop, params, timeline)
    frame = high_amount(frame, scenarios.high_amount)
    frame, by_terminal = compromised_terminals(
        frame,
        pop,
        scenarios.compromised_terminals,
        params.fraud_intel.coverage,
        seed,
        timeline,
        first_incident=0,
    )
    frame, by_card = compromised_cards(
        frame,
        pop,
        scenarios.compromised_cards,
        seed,
        timeline,
        first_incident=len(by_terminal),
    )
    testing, by_testing = card_testing(
        pop,
        scenarios.card_testing,
        seed,
        timeline,
        first_incident=len(by_terminal) + len(by_card),
    )
    night, by_night = drift_night(
        pop,
        params.drift,
        seed,
        timeline,
        first_incident=len(by_terminal) + len(by_card) + len(by_testing),
    )
    frame = TxFrame.concat([frame, testing, night])
    incidents = Incidents.concat([by_terminal, by_card, by_testing, by_night])
    incidents, frame = renumber_by_day(incidents, frame)
    # Stable sort: ties keep generation order, which is itself deterministic.
    frame = frame.take(np.argsort(frame.ts_us, kind="stable"))

    return Simulation(
        params=params,
        transactions=transactions_table(frame, pop, params.currency),
        customers=customers_table(pop, params.start_date),
        labels=labels_table(labels(frame, params.labels, seed, timeline)),
        fraud_intel=fraud_intel_table(intel_reports(incidents, params.fraud_intel, timeline)),
        terminals=terminals_table(pop),
        truth=truth_table(frame),
        incidents=incidents_table(incidents, pop),
    )


def check_params(params: SimulateParams) -> None:
    """Reject combinations ``SimulateParams`` validates field by field but not together."""
    problems = []
    if params.seed < 0:
        problems.append(f"simulate.seed must be >= 0, got {params.seed}")
    if params.labels.delay_days_min > params.labels.delay_days_max:
        problems.append("simulate.labels.delay_days_min must be <= delay_days_max")
    testing = params.scenarios.card_testing
    if testing.enabled and testing.min_tx > testing.max_tx:
        problems.append("simulate.scenarios.card_testing.min_tx must be <= max_tx")
    if testing.enabled and testing.max_amount < 0.01:
        problems.append("simulate.scenarios.card_testing.max_amount must be >= 0.01")
    if problems:
        raise ValueError("; ".join(problems))
