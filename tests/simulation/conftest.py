"""Small simulated worlds shared by the simulator tests (each simulated once per session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudlake.params import (
    CardTestingScenario,
    CompromisedCardsScenario,
    CompromisedTerminalsScenario,
    Drift,
    Scenarios,
    SimulateParams,
)
from fraudlake.simulation import Simulation, simulate


def small_params(**overrides: object) -> SimulateParams:
    """A world small enough to simulate in well under a second, with every scenario on."""
    base: dict[str, object] = {
        "seed": 7,
        "days": 35,
        "n_customers": 800,
        "n_terminals": 1600,
        "max_cards_per_customer": 3,
        "scenarios": Scenarios(
            compromised_terminals=CompromisedTerminalsScenario(per_day=2, duration_days=10),
            compromised_cards=CompromisedCardsScenario(
                per_day=4, duration_days=10, share=0.4, amount_factor=4.0
            ),
            card_testing=CardTestingScenario(
                bursts_per_day=3, min_tx=6, max_tx=12, max_amount=3.0, span_minutes=7
            ),
        ),
    }
    return SimulateParams.model_validate({**base, **overrides})


@pytest.fixture(scope="session")
def params() -> SimulateParams:
    return small_params()


@pytest.fixture(scope="session")
def sim(params: SimulateParams) -> Simulation:
    return simulate(params)


@pytest.fixture(scope="session")
def drift_params() -> SimulateParams:
    return small_params(drift=Drift(enabled=True, start_day=20, new_pattern_per_day=6))


@pytest.fixture(scope="session")
def drift_sim(drift_params: SimulateParams) -> Simulation:
    return simulate(drift_params)


def joined(sim: Simulation) -> pd.DataFrame:
    """Transactions with their truth and the owner's profile, one row per transaction."""
    tx = sim.transactions.to_pandas()
    truth = sim.truth.to_pandas()
    assert (tx["transaction_id"].to_numpy() == truth["transaction_id"].to_numpy()).all()
    customers = sim.customers.to_pandas().set_index("customer_id")
    tx["is_fraud"] = truth["is_fraud"].to_numpy()
    tx["fraud_scenario"] = truth["fraud_scenario"].to_numpy()
    tx["incident_id"] = truth["incident_id"].to_numpy()
    tx["mean_amount"] = customers["mean_amount"].to_numpy()[tx["customer_id"].to_numpy()]
    tx["home_x"] = customers["home_x"].to_numpy()[tx["customer_id"].to_numpy()]
    tx["home_y"] = customers["home_y"].to_numpy()[tx["customer_id"].to_numpy()]
    start = pd.Timestamp(sim.params.start_date, tz="UTC")
    tx["day"] = ((tx["event_ts"] - start) // pd.Timedelta(days=1)).astype(np.int64)
    return tx


@pytest.fixture(scope="session")
def tx(sim: Simulation) -> pd.DataFrame:
    return joined(sim)


@pytest.fixture(scope="session")
def drift_tx(drift_sim: Simulation) -> pd.DataFrame:
    return joined(drift_sim)
