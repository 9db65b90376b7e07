"""Labels and fraud intel arrive late, only for what happened, never after the end."""

from __future__ import annotations

import pandas as pd

from fraudlake.params import FraudIntel, LabelDelay, SimulateParams
from fraudlake.simulation import Simulation, simulate


def _end(params: SimulateParams) -> pd.Timestamp:
    return pd.Timestamp(params.start_date, tz="UTC") + pd.Timedelta(days=params.days)


def test_labels_are_the_frauds_reported_within_the_delay(
    tx: pd.DataFrame, sim: Simulation, params: SimulateParams
) -> None:
    labels = sim.labels.to_pandas()
    assert labels["transaction_id"].is_unique
    assert labels["is_fraud"].all()
    assert labels["reported_at"].is_monotonic_increasing
    labelled = tx.set_index("transaction_id").loc[labels["transaction_id"]]
    assert labelled["is_fraud"].all()
    assert (labelled["fraud_scenario"].to_numpy() == labels["fraud_scenario"].to_numpy()).all()

    delay = labels["reported_at"].to_numpy() - labelled["event_ts"].to_numpy()
    low = pd.Timedelta(days=params.labels.delay_days_min)
    high = pd.Timedelta(days=params.labels.delay_days_max)
    assert (delay >= low).all() and (delay <= high).all()
    assert pd.Series(delay).dt.days.nunique() > 5  # spread over the range, not constant
    assert (labels["reported_at"] < _end(params)).all()

    # Completeness: a fraud whose latest possible report is before the end is labelled.
    sure = tx[tx["is_fraud"] & (tx["event_ts"] + high < _end(params))]
    assert len(sure) > 0
    assert sure["transaction_id"].isin(labels["transaction_id"]).all()


def test_a_fixed_delay_labels_exactly_that_late(params: SimulateParams) -> None:
    fixed = params.model_copy(
        update={"labels": LabelDelay(delay_days_min=3, delay_days_max=3), "days": 10}
    )
    sim = simulate(fixed)
    labels = sim.labels.to_pandas()
    event = sim.transactions.to_pandas().set_index("transaction_id").loc[labels["transaction_id"]]
    assert (
        (labels["reported_at"].to_numpy() - event["event_ts"].to_numpy()) == pd.Timedelta(days=3)
    ).all()
    frauds = sim.truth.to_pandas().query("is_fraud")
    events = sim.transactions.to_pandas().set_index("transaction_id")["event_ts"]
    expected = frauds[
        events.loc[frauds["transaction_id"]].to_numpy() + pd.Timedelta(days=3) < _end(fixed)
    ]
    assert len(labels) == len(expected)


def test_fraud_intel_reports_compromised_terminals_late(
    sim: Simulation, params: SimulateParams
) -> None:
    intel = sim.fraud_intel.to_pandas()
    assert len(intel) > 0
    assert (intel["source"] == "intel-feed").all()
    assert intel["reported_at"].is_monotonic_increasing
    delay = pd.Timedelta(days=params.fraud_intel.report_delay_days)
    assert (intel["reported_at"] - intel["compromised_from"] == delay).all()
    assert (intel["reported_at"] < _end(params)).all()
    incidents = sim.incidents.to_pandas().query("fraud_scenario == 'compromised_terminals'")
    known = set(zip(incidents["terminal_id"], incidents["start_ts"], strict=True))
    assert set(zip(intel["terminal_id"], intel["compromised_from"], strict=True)) <= known
    reportable = incidents[incidents["start_ts"] + delay < _end(params)]
    assert 0.3 < len(intel) / len(reportable) < 0.7  # coverage 0.5


def test_intel_coverage_bounds(params: SimulateParams) -> None:
    def reports(coverage: float) -> tuple[int, int]:
        sim = simulate(
            params.model_copy(
                update={
                    "days": 10,
                    "fraud_intel": FraudIntel(report_delay_days=2, coverage=coverage),
                }
            )
        )
        incidents = sim.incidents.to_pandas().query("fraud_scenario == 'compromised_terminals'")
        reportable = (incidents["start_ts"] + pd.Timedelta(days=2) < _end(sim.params)).sum()
        return sim.fraud_intel.num_rows, int(reportable)

    assert reports(0.0)[0] == 0
    reported, reportable = reports(1.0)
    assert reported == reportable > 0
