"""``fraud_stream_to_lake`` on the real stack: labels produced to Kafka land in
``raw.labels`` through Airflow exactly once, with their offsets in the snapshot summary."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from kafka import KafkaProducer

from fraudlake.lake.catalog import open_catalog
from fraudlake.settings import get_settings
from fraudlake.streaming.offsets import committed_offsets
from tests.integration.conftest import StackUnderTest

pytestmark = pytest.mark.slow

DAG = "fraud_stream_to_lake"
#: Transaction ids far above the simulator's, so these labels are recognisable.
FIRST_ID = 9_000_000_000


def _produce_labels(bootstrap: str, first: int, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for i in range(first, first + count):
            label = {
                "transaction_id": i,
                "is_fraud": True,
                "fraud_scenario": "compromised_cards",
                "reported_at": dt.datetime(2031, 1, 1, tzinfo=dt.UTC).isoformat(),
            }
            producer.send("labels", json.dumps(label).encode())
        producer.flush(timeout=30)
    finally:
        producer.close()


def _our_label_ids() -> list[int]:
    table = open_catalog(get_settings()).load_table("raw.labels")
    ids = table.scan(selected_fields=("transaction_id",)).to_arrow()["transaction_id"]
    return [i for i in ids.to_pylist() if i >= FIRST_ID]


def _run(live_stack: StackUnderTest) -> dict[str, str | None]:
    with live_stack.airflow() as airflow:
        airflow.wait_for_dag(DAG)
        run_id = airflow.trigger(DAG)
        result = airflow.wait_for_run(DAG, run_id, timeout=600)
    assert result.state == "success", result.task_states
    return result.task_states


def test_labels_from_kafka_land_exactly_once(stack_env: StackUnderTest) -> None:
    bootstrap = stack_env.config.kafka_bootstrap
    _produce_labels(bootstrap, FIRST_ID, 25)
    _run(stack_env)
    assert sorted(_our_label_ids()) == list(range(FIRST_ID, FIRST_ID + 25))

    _run(stack_env)  # nothing new on the topic: nothing appended
    assert len(_our_label_ids()) == 25

    _produce_labels(bootstrap, FIRST_ID + 25, 5)
    _run(stack_env)
    ids = _our_label_ids()
    assert sorted(ids) == list(range(FIRST_ID, FIRST_ID + 30))  # each exactly once

    table = open_catalog(get_settings()).load_table("raw.labels")
    offsets = committed_offsets(table, "labels")
    assert sum(offsets.values()) >= 30  # the offsets travelled with the rows
