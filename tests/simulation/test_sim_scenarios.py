"""Each fraud scenario marks exactly what its docstring promises."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudlake.params import Scenarios, SimulateParams
from fraudlake.simulation import Simulation, simulate
from fraudlake.simulation.scenarios import MAX_TERMINALS_PER_BURST


def _incidents(sim: Simulation, scenario: str) -> pd.DataFrame:
    incidents = sim.incidents.to_pandas()
    return incidents[incidents["fraud_scenario"] == scenario]


def test_every_amount_above_the_threshold_is_fraud(
    tx: pd.DataFrame, params: SimulateParams
) -> None:
    threshold = params.scenarios.high_amount.threshold
    above = tx[tx["amount"] > threshold]
    assert len(above) > 0
    assert above["is_fraud"].all()
    high = tx[tx["fraud_scenario"] == "high_amount"]
    assert len(high) > 0
    assert (high["amount"] > threshold).all()
    assert high["incident_id"].isna().all()


def test_compromised_terminal_windows_are_all_fraud(
    tx: pd.DataFrame, sim: Simulation, params: SimulateParams
) -> None:
    scenario = params.scenarios.compromised_terminals
    incidents = _incidents(sim, "compromised_terminals")
    assert len(incidents) == scenario.per_day * params.days
    assert (incidents.groupby("start_ts")["terminal_id"].nunique() == scenario.per_day).all()
    assert (
        (incidents["end_ts"] - incidents["start_ts"]) == pd.Timedelta(days=scenario.duration_days)
    ).all()
    assert (incidents["start_ts"] == incidents["start_ts"].dt.floor("D")).all()
    in_window = 0
    for row in incidents.itertuples():
        window = tx[
            (tx["terminal_id"] == row.terminal_id)
            & (tx["event_ts"] >= row.start_ts)
            & (tx["event_ts"] < row.end_ts)
        ]
        assert window["is_fraud"].all(), row
        in_window += len(window)
    assert in_window > 100
    # And nothing else is marked compromised_terminals.
    marked = tx[tx["fraud_scenario"] == "compromised_terminals"]
    by_id = incidents.set_index("incident_id")
    inc = by_id.loc[marked["incident_id"].astype(int)]
    assert (inc["terminal_id"].to_numpy() == marked["terminal_id"].to_numpy()).all()
    assert (marked["event_ts"].to_numpy() >= inc["start_ts"].to_numpy()).all()
    assert (marked["event_ts"].to_numpy() < inc["end_ts"].to_numpy()).all()


def test_compromised_cards_lose_a_share_of_transactions_at_higher_amounts(
    tx: pd.DataFrame, sim: Simulation, params: SimulateParams
) -> None:
    scenario = params.scenarios.compromised_cards
    incidents = _incidents(sim, "compromised_cards")
    assert len(incidents) == scenario.per_day * params.days
    in_window = np.zeros(len(tx), dtype=bool)
    for row in incidents.itertuples():
        in_window |= (
            (tx["card_number"] == row.card_number)
            & (tx["event_ts"] >= row.start_ts)
            & (tx["event_ts"] < row.end_ts)
        ).to_numpy()
    # Only genuine traffic not already claimed by (a) or (b) is eligible.
    eligible = tx[in_window & tx["fraud_scenario"].isin(["none", "compromised_cards"]).to_numpy()]
    assert len(eligible) > 500
    share = (eligible["fraud_scenario"] == "compromised_cards").mean()
    assert abs(share - scenario.share) < 0.05
    assert (tx.loc[~in_window, "fraud_scenario"] != "compromised_cards").all()

    stolen = eligible[eligible["fraud_scenario"] == "compromised_cards"]
    usual = eligible[eligible["fraud_scenario"] == "none"]
    stolen_ratio = (stolen["amount"] / stolen["mean_amount"]).mean()
    usual_ratio = (usual["amount"] / usual["mean_amount"]).mean()
    assert abs(usual_ratio - 1) < 0.1
    assert abs(stolen_ratio / scenario.amount_factor - 1) < 0.1


def test_card_testing_bursts_are_small_fast_and_all_fraud(
    tx: pd.DataFrame, sim: Simulation, params: SimulateParams
) -> None:
    scenario = params.scenarios.card_testing
    incidents = _incidents(sim, "card_testing").set_index("incident_id")
    assert len(incidents) == scenario.bursts_per_day * params.days
    bursts = tx[tx["fraud_scenario"] == "card_testing"].groupby("incident_id")
    assert bursts.ngroups == len(incidents)
    size = bursts.size()
    assert size.between(scenario.min_tx, scenario.max_tx).all()
    assert size.nunique() > 1
    span = bursts["event_ts"].max() - bursts["event_ts"].min()
    assert (span <= pd.Timedelta(minutes=scenario.span_minutes)).all()
    assert bursts["terminal_id"].nunique().between(1, MAX_TERMINALS_PER_BURST).all()
    assert bursts["card_number"].nunique().eq(1).all()
    assert (bursts["card_number"].first() == incidents.loc[size.index, "card_number"]).all()
    assert (bursts["event_ts"].min() >= incidents.loc[size.index, "start_ts"]).all()
    assert (bursts["event_ts"].max() < incidents.loc[size.index, "end_ts"]).all()
    amounts = tx.loc[tx["fraud_scenario"] == "card_testing", "amount"]
    assert amounts.between(0.01, scenario.max_amount).all()


def test_all_scenarios_off_means_no_fraud(params: SimulateParams) -> None:
    off = Scenarios.model_validate({name: {"enabled": False} for name in Scenarios.model_fields})
    sim = simulate(params.model_copy(update={"scenarios": off, "days": 10}))
    assert sim.truth.column("is_fraud").to_numpy().sum() == 0
    assert sim.labels.num_rows == 0
    assert sim.fraud_intel.num_rows == 0
    assert sim.incidents.num_rows == 0
