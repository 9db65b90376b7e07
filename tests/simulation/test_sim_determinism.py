"""Seeded and reproducible: same parameters, same world; independent random streams."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from fraudlake.params import CardTestingScenario, Scenarios, SimulateParams
from fraudlake.simulation import Simulation, simulate

TABLES = ("transactions", "customers", "labels", "fraud_intel", "terminals", "truth", "incidents")


def test_same_seed_gives_identical_tables(sim: Simulation, params: SimulateParams) -> None:
    again = simulate(params)
    for name in TABLES:
        assert getattr(again, name).equals(getattr(sim, name)), name


def test_different_seed_gives_a_different_world(sim: Simulation, params: SimulateParams) -> None:
    other = simulate(params.model_copy(update={"seed": params.seed + 1}))
    for name in ("transactions", "customers", "terminals", "labels"):
        assert not getattr(other, name).equals(getattr(sim, name)), name
    assert not other.transactions.column("card_number").equals(
        sim.transactions.column("card_number")
    )


def _before(table: pa.Table, column: str, cutoff: object) -> pa.Table:
    return table.filter(
        pc.less(table.column(column), pa.scalar(cutoff, table.schema.field(column).type))
    )


def test_a_longer_run_extends_a_shorter_one(params: SimulateParams) -> None:
    short = simulate(params.model_copy(update={"days": 12}))
    long = simulate(params.model_copy(update={"days": 20}))
    n = short.transactions.num_rows
    assert long.transactions.slice(0, n).equals(short.transactions)
    assert long.truth.slice(0, n).equals(short.truth)
    assert long.customers.equals(short.customers)
    assert long.incidents.slice(0, short.incidents.num_rows).equals(short.incidents)
    # Labels known when the short run ends are exactly the long run's labels reported by then.
    cutoff = dt.datetime.combine(params.start_date, dt.time(), dt.UTC) + dt.timedelta(days=12)
    assert short.labels.num_rows > 0
    assert _before(long.labels, "reported_at", cutoff).equals(short.labels)
    assert _before(long.fraud_intel, "reported_at", cutoff).equals(short.fraud_intel)


def test_a_scenario_knob_leaves_genuine_traffic_alone(
    sim: Simulation, params: SimulateParams
) -> None:
    quiet = simulate(
        params.model_copy(
            update={
                "scenarios": Scenarios(
                    compromised_terminals=params.scenarios.compromised_terminals,
                    compromised_cards=params.scenarios.compromised_cards,
                    card_testing=CardTestingScenario(enabled=False),
                )
            }
        )
    )
    not_testing = pc.not_equal(sim.truth.column("fraud_scenario"), "card_testing")
    kept = sim.transactions.filter(not_testing).drop_columns(["transaction_id"])
    assert kept.equals(quiet.transactions.drop_columns(["transaction_id"]))
    assert pc.sum(pc.equal(quiet.truth.column("fraud_scenario"), "card_testing")).as_py() in (
        0,
        None,
    )
