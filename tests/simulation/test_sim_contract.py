"""The simulator's tables honour the raw-batch contract and the handbook's generation rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudlake import schemas
from fraudlake.params import SimulateParams
from fraudlake.simulation import Simulation, simulate
from fraudlake.simulation.cards import luhn_check_digit
from fraudlake.simulation.population import MERCHANT_CATEGORIES
from fraudlake.simulation.result import INCIDENTS, TERMINALS, TRUTH


def test_tables_have_exactly_the_contract_schemas(sim: Simulation) -> None:
    expected = {
        "transactions": schemas.RAW_TRANSACTIONS,
        "customers": schemas.CUSTOMERS,
        "labels": schemas.LABELS,
        "fraud_intel": schemas.FRAUD_INTEL,
        "terminals": TERMINALS,
        "truth": TRUTH,
        "incidents": INCIDENTS,
    }
    for name, schema in expected.items():
        table: pa.Table = getattr(sim, name)
        assert table.schema.equals(schema, check_metadata=True), name
        for field in schema:
            if not field.nullable:
                assert table.column(field.name).null_count == 0, (name, field.name)
        assert table.num_rows > 0, name


def test_transaction_ids_follow_event_time(sim: Simulation) -> None:
    ids = sim.transactions.column("transaction_id").to_numpy()
    assert (ids == np.arange(len(ids))).all()
    ts = sim.transactions.column("event_ts").cast(pa.int64()).to_numpy()
    assert (np.diff(ts) >= 0).all()
    start = pd.Timestamp(sim.params.start_date, tz="UTC")
    end = start + pd.Timedelta(days=sim.params.days)
    assert pc.min(sim.transactions.column("event_ts")).as_py() >= start
    assert pc.max(sim.transactions.column("event_ts")).as_py() < end


def test_truth_rows_align_with_transactions(sim: Simulation) -> None:
    assert sim.truth.column("transaction_id").equals(sim.transactions.column("transaction_id"))
    scenario = sim.truth.column("fraud_scenario").to_numpy(zero_copy_only=False)
    assert (sim.truth.column("is_fraud").to_numpy() == (scenario != "none")).all()


def test_customers_follow_the_handbook_distributions(
    sim: Simulation, params: SimulateParams
) -> None:
    c = sim.customers.to_pandas()
    assert (c["customer_id"] == np.arange(params.n_customers)).all()
    assert c["home_x"].between(0, params.grid_size).all()
    assert c["home_y"].between(0, params.grid_size).all()
    assert c["mean_amount"].between(5, 100).all()
    assert np.allclose(c["std_amount"], c["mean_amount"] / 2)
    assert c["mean_tx_per_day"].between(0, 4).all()
    assert c["n_cards"].between(1, params.max_cards_per_customer).all()
    assert set(c["n_cards"]) == set(range(1, params.max_cards_per_customer + 1))
    assert (c["profile_date"] == params.start_date).all()
    half = params.grid_size / 2
    expected_region = np.where(c["home_y"] >= half, "north-", "south-") + np.where(
        c["home_x"] >= half, "east", "west"
    )
    assert (c["region"] == expected_region).all()
    assert set(c["segment"]) == {"student", "mass", "affluent", "business"}
    assert (c.loc[c["segment"] == "student", "mean_amount"] < 25).all()
    assert (c.loc[c["segment"] == "business", "mean_tx_per_day"] >= 3).all()


def test_genuine_transactions_use_terminals_within_reach(
    tx: pd.DataFrame, sim: Simulation, params: SimulateParams
) -> None:
    terminals = sim.terminals.to_pandas().set_index("terminal_id")
    t = terminals.loc[tx["terminal_id"]]
    assert (t["x"].to_numpy() == tx["terminal_x"].to_numpy()).all()
    assert (t["y"].to_numpy() == tx["terminal_y"].to_numpy()).all()
    assert (t["merchant_category"].to_numpy() == tx["merchant_category"].to_numpy()).all()
    assert set(terminals["merchant_category"]) <= set(MERCHANT_CATEGORIES)
    # Injected frauds (card testing) may be anywhere; genuine traffic stays near home.
    own = tx[~tx["fraud_scenario"].isin(["card_testing", "drift_night"])]
    distance = np.hypot(own["terminal_x"] - own["home_x"], own["terminal_y"] - own["home_y"])
    assert (distance <= params.terminal_radius).all()


def test_amounts_and_times_follow_the_handbook(tx: pd.DataFrame) -> None:
    genuine = tx[tx["fraud_scenario"] == "none"]
    assert (genuine["amount"] >= 0).all()
    cents = genuine["amount"] * 100
    assert np.allclose(cents, cents.round(), atol=1e-6)
    seconds = (genuine["event_ts"] - genuine["event_ts"].dt.floor("D")).dt.total_seconds()
    # Normal(43200, 20000) truncated to one day: symmetric, so the mean stays at noon.
    assert abs(seconds.mean() - 43_200) < 600
    assert 17_000 < seconds.std() < 20_000
    ratio = genuine["amount"] / genuine["mean_amount"]
    assert abs(ratio.mean() - 1) < 0.03
    assert (genuine["currency"] == "EUR").all()


def test_cards_are_unique_luhn_valid_and_owned(tx: pd.DataFrame, sim: Simulation) -> None:
    numbers = tx["card_number"]
    assert numbers.str.fullmatch(r"\d{16}").all()
    digits = np.array([int(n) for n in numbers.unique()], dtype=np.int64)
    assert (luhn_check_digit(digits // 10, 15) == digits % 10).all()
    owners = tx.groupby("card_number")["customer_id"].nunique()
    assert (owners == 1).all()
    used = tx.groupby("customer_id")["card_number"].nunique()
    n_cards = sim.customers.to_pandas().set_index("customer_id")["n_cards"]
    assert (used <= n_cards.loc[used.index]).all()
    assert (used > 1).any()


def test_luhn_check_digit_of_known_numbers() -> None:
    for number in (4111111111111111, 4012888888881881, 79927398713):
        n_digits = len(str(number)) - 1
        payload = np.array([number // 10], dtype=np.int64)
        assert luhn_check_digit(payload, n_digits)[0] == number % 10


def test_customers_without_terminals_never_transact() -> None:
    sim = simulate(
        SimulateParams(seed=3, days=5, n_customers=300, n_terminals=20, terminal_radius=2.0)
    )
    c = sim.customers.to_pandas()
    t = sim.terminals.to_pandas()
    distance = np.hypot(
        c["home_x"].to_numpy()[:, None] - t["x"].to_numpy()[None, :],
        c["home_y"].to_numpy()[:, None] - t["y"].to_numpy()[None, :],
    )
    isolated = np.flatnonzero((distance > 2.0).all(axis=1))
    assert len(isolated) > 0
    truth = sim.truth.to_pandas()
    genuine = sim.transactions.to_pandas()[truth["fraud_scenario"].isin(["none", "high_amount"])]
    assert not genuine["customer_id"].isin(isolated).any()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": {"delay_days_min": 5, "delay_days_max": 2}}, "delay_days_min"),
        ({"scenarios": {"card_testing": {"min_tx": 9, "max_tx": 3}}}, "min_tx"),
        ({"seed": -1}, "seed"),
    ],
)
def test_inconsistent_parameters_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(SimulateParams.model_validate({"days": 1, "n_customers": 5, **overrides}))


def test_profile_date_is_the_start_date() -> None:
    sim = simulate(SimulateParams(start_date=dt.date(2023, 5, 2), days=1, n_customers=10))
    assert set(sim.customers.column("profile_date").to_pylist()) == {dt.date(2023, 5, 2)}
