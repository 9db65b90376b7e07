"""The drift knob changes behaviour from ``start_day`` on, and only from then."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudlake.params import SimulateParams
from fraudlake.simulation import Simulation
from fraudlake.simulation.scenarios import FAR_FROM_HOME_SHARE, NIGHT_AMOUNT_RANGE


def test_days_before_drift_are_untouched(
    sim: Simulation, drift_sim: Simulation, drift_params: SimulateParams
) -> None:
    start = drift_params.drift.start_day
    before = int(
        (
            sim.transactions.column("event_ts").to_pandas()
            < pd.Timestamp(sim.params.start_date, tz="UTC") + pd.Timedelta(days=start)
        ).sum()
    )
    assert before > 0
    assert drift_sim.transactions.slice(0, before).equals(sim.transactions.slice(0, before))
    assert drift_sim.truth.slice(0, before).equals(sim.truth.slice(0, before))
    assert drift_sim.customers.equals(sim.customers)


def test_drift_raises_amounts_and_rates(
    tx: pd.DataFrame, drift_tx: pd.DataFrame, drift_params: SimulateParams
) -> None:
    drift = drift_params.drift

    def genuine(frame: pd.DataFrame, after: bool) -> pd.DataFrame:
        own = frame[frame["fraud_scenario"].isin(["none", "high_amount", "compromised_terminals"])]
        return own[(own["day"] >= drift.start_day) == after]

    before_ratio = (
        genuine(drift_tx, False)["amount"] / genuine(drift_tx, False)["mean_amount"]
    ).mean()
    after_ratio = (
        genuine(drift_tx, True)["amount"] / genuine(drift_tx, True)["mean_amount"]
    ).mean()
    assert abs(before_ratio - 1) < 0.05
    assert abs(after_ratio / drift.amount_shift - 1) < 0.05
    assert genuine(drift_tx, True)["amount"].mean() > 1.4 * genuine(tx, True)["amount"].mean()

    rate_ratio = len(genuine(drift_tx, True)) / len(genuine(tx, True))
    assert abs(rate_ratio / drift.tx_rate_shift - 1) < 0.05
    assert len(genuine(drift_tx, False)) == len(genuine(tx, False))


def test_drift_adds_night_frauds_far_from_home_only_after_start(
    tx: pd.DataFrame, drift_tx: pd.DataFrame, drift_params: SimulateParams
) -> None:
    drift = drift_params.drift
    assert not (tx["fraud_scenario"] == "drift_night").any()
    night = drift_tx[drift_tx["fraud_scenario"] == "drift_night"]
    per_day = night.groupby("day").size()
    assert list(per_day.index) == list(range(drift.start_day, drift_params.days))
    assert (per_day == drift.new_pattern_per_day).all()
    assert night.groupby("day")["card_number"].nunique().eq(drift.new_pattern_per_day).all()
    assert night["is_fraud"].all()
    assert (night["event_ts"].dt.hour < 5).all()
    low, high = NIGHT_AMOUNT_RANGE
    assert night["amount"].between(low, high).all()
    distance = np.hypot(
        night["terminal_x"] - night["home_x"], night["terminal_y"] - night["home_y"]
    )
    assert (distance >= FAR_FROM_HOME_SHARE * drift_params.grid_size).all()
