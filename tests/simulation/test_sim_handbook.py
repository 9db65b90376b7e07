"""The ``handbook`` profile reproduces Le Borgne et al.'s published simulation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudlake.params import SimulateParams
from fraudlake.simulation import Simulation, handbook_params, simulate


def test_handbook_params_are_the_published_configuration() -> None:
    hb = handbook_params(SimulateParams())
    assert (hb.profile, hb.seed, hb.start_date, hb.days) == (
        "handbook",
        0,
        dt.date(2018, 4, 1),
        183,
    )
    assert (hb.n_customers, hb.n_terminals, hb.grid_size, hb.terminal_radius) == (
        5000,
        10000,
        100,
        5,
    )
    assert hb.max_cards_per_customer == 1
    s = hb.scenarios
    assert s.high_amount.enabled and s.high_amount.threshold == 220
    assert (s.compromised_terminals.per_day, s.compromised_terminals.duration_days) == (2, 28)
    c = s.compromised_cards
    assert (c.per_day, c.duration_days, c.amount_factor) == (3, 14, 5)
    assert c.share == pytest.approx(1 / 3)
    assert not s.card_testing.enabled
    assert not hb.drift.enabled
    assert hb.labels.delay_days_min == hb.labels.delay_days_max == 7
    assert handbook_params(hb) == hb


def test_handbook_keeps_explicit_run_knobs() -> None:
    hb = handbook_params(SimulateParams(profile="handbook", days=56, seed=42, currency="USD"))
    assert (hb.days, hb.seed, hb.currency, hb.n_customers) == (56, 42, "USD", 5000)
    assert hb.start_date == dt.date(2018, 4, 1)
    # As from params.yaml: run knobs given explicitly apply, the world is the handbook's.
    loaded = SimulateParams.model_validate({"profile": "handbook", "days": 30, "n_customers": 3000})
    assert (handbook_params(loaded).days, handbook_params(loaded).n_customers) == (30, 5000)
    assert handbook_params(handbook_params(loaded)) == handbook_params(loaded)


@pytest.fixture(scope="module")
def handbook() -> Simulation:
    return simulate(SimulateParams(profile="handbook"))


def test_simulate_applies_the_profile(handbook: Simulation) -> None:
    assert handbook.params == handbook_params(SimulateParams())
    assert handbook.customers.num_rows == 5000
    assert handbook.terminals.num_rows == 10000
    assert set(handbook.customers.column("n_cards").to_pylist()) == {1}
    ts = handbook.transactions.column("event_ts")
    assert pc.min(ts).as_py().date() == dt.date(2018, 4, 1)
    assert pc.max(ts).as_py().date() == dt.date(2018, 9, 30)


def test_handbook_sizes_and_fraud_rate(handbook: Simulation) -> None:
    n = handbook.transactions.num_rows
    assert 1_650_000 < n < 1_850_000  # the handbook reports 1,754,155
    fraud_rate = np.mean(handbook.truth.column("is_fraud").to_numpy())
    assert 0.005 < fraud_rate < 0.012  # the handbook reports 0.84 %
    scenarios = set(handbook.truth.column("fraud_scenario").to_pylist())
    assert scenarios == {"none", "high_amount", "compromised_terminals", "compromised_cards"}


def test_handbook_labels_arrive_exactly_a_week_later(handbook: Simulation) -> None:
    reported = handbook.labels.column("reported_at").cast(pa.int64()).to_numpy()
    events = handbook.transactions.column("event_ts").cast(pa.int64()).to_numpy()
    ids = handbook.labels.column("transaction_id").to_numpy()
    assert len(ids) > 10_000
    assert (reported - events[ids] == 7 * 86_400 * 1_000_000).all()
