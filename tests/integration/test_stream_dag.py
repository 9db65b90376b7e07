"""``fraud_stream_to_lake`` on the real stack: labels produced to Kafka land in
``raw.labels`` through Airflow exactly once, with their offsets in the snapshot summary,
even when the task is killed between writing its files and committing them."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import boto3
import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import RAW_TABLES, ensure_table
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


def _label_ids(first: int, below: int) -> list[int]:
    """The transaction ids in ``raw.labels`` within ``[first, below)``, repeats kept."""
    table = open_catalog(get_settings()).load_table("raw.labels")
    ids = table.scan(selected_fields=("transaction_id",)).to_arrow()["transaction_id"]
    return [i for i in ids.to_pylist() if first <= i < below]


def _wait_for_run(live_stack: StackUnderTest, run_id: str) -> dict[str, str | None]:
    with live_stack.airflow() as airflow:
        result = airflow.wait_for_run(DAG, run_id, timeout=600)
    assert result.state == "success", result.task_states
    return result.task_states


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
    assert sorted(_label_ids(FIRST_ID, FIRST_ID + 1_000)) == list(range(FIRST_ID, FIRST_ID + 25))

    _run(stack_env)  # nothing new on the topic: nothing appended
    assert len(_label_ids(FIRST_ID, FIRST_ID + 1_000)) == 25

    _produce_labels(bootstrap, FIRST_ID + 25, 5)
    _run(stack_env)
    ids = _label_ids(FIRST_ID, FIRST_ID + 1_000)
    assert sorted(ids) == list(range(FIRST_ID, FIRST_ID + 30))  # each exactly once

    table = open_catalog(get_settings()).load_table("raw.labels")
    offsets = committed_offsets(table, "labels")
    assert sum(offsets.values()) >= 30  # the offsets travelled with the rows


LABELS_TASK = "labels_to_lake"


@contextmanager
def _catalog_row_locked(namespace: str, name: str) -> Iterator[sa.Engine]:
    """Hold the row lock of the table's catalog entry: pyiceberg's SQL catalog commits
    with an ``UPDATE iceberg_tables …``, which then waits, after the data files, manifests
    and new metadata file are written to S3. Yields the engine; rolled back on exit."""
    engine = sa.create_engine(get_settings().resolved_catalog_uri)
    try:
        with engine.connect() as conn:
            locked = conn.execute(
                sa.text(
                    "SELECT metadata_location FROM iceberg_tables "
                    "WHERE table_namespace = :ns AND table_name = :name FOR UPDATE"
                ),
                {"ns": namespace, "name": name},
            ).all()
            assert len(locked) == 1, f"no catalog row for {namespace}.{name}"
            yield engine
            conn.rollback()
    finally:
        engine.dispose()


def _backend_waiting_on_commit(engine: sa.Engine, timeout: float) -> int:
    """The PostgreSQL backend blocked on the catalog row lock in an Iceberg commit.

    Each poll in its own transaction: PostgreSQL snapshots ``pg_stat_activity`` once per
    transaction."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            found = list(
                conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE 'UPDATE iceberg_tables%'"
                    )
                ).scalars()
            )
        if found:
            assert len(found) == 1, f"more than one commit waiting: {found}"
            return int(found[0])
        time.sleep(1)
    raise AssertionError(f"no Iceberg commit waited on the catalog lock within {timeout:.0f}s")


def _lake_files(prefix_uri: str) -> set[str]:
    parsed = urlparse(prefix_uri)
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=parsed.netloc, Prefix=parsed.path.lstrip("/") + "/"
    ):
        keys.update(f"s3://{parsed.netloc}/{o['Key']}" for o in page.get("Contents", []))
    return keys


def test_task_killed_between_write_and_commit_retries_exactly_once(
    stack_env: StackUnderTest,
) -> None:
    first = FIRST_ID + 1_000
    _produce_labels(stack_env.config.kafka_bootstrap, first, 20)
    table = ensure_table(open_catalog(get_settings()), RAW_TABLES["labels"])
    offsets_before = committed_offsets(table, "labels")
    data_before = _lake_files(f"{table.location()}/data")

    with _catalog_row_locked("raw", "labels") as lock, stack_env.airflow() as airflow:
        airflow.wait_for_dag(DAG)
        run_id = airflow.trigger(DAG)
        # Well inside the task's 4-minute execution timeout.
        waiting_backend = _backend_waiting_on_commit(lock, timeout=120)
        # The task has read the messages and written its files; it is inside the commit.
        ti = airflow.task_instance(DAG, run_id, LABELS_TASK)
        assert ti["state"] == "running" and ti["try_number"] == 1, ti
        written = _lake_files(f"{table.location()}/data") - data_before
        assert written, "the killed attempt wrote no data file before its commit"
        os.kill(int(ti["pid"]), signal.SIGKILL)  # as the OOM killer would
        # The dead client's backend would otherwise only notice at its next write.
        with lock.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting_backend})

    states = _wait_for_run(stack_env, run_id)
    assert states[LABELS_TASK] == "success"
    with stack_env.airflow() as airflow:
        retried = airflow.task_instance(DAG, run_id, LABELS_TASK)
    assert retried["try_number"] == 2, "the task succeeded without being retried"

    ids = _label_ids(first, first + 1_000)
    assert sorted(ids) == list(range(first, first + 20))  # none lost, none twice
    table = open_catalog(get_settings()).load_table("raw.labels")
    offsets_after = committed_offsets(table, "labels")
    assert sum(offsets_after.values()) - sum(offsets_before.values()) == 20
    # The killed attempt's files were never committed: no snapshot references them.
    referenced = set(table.inspect.all_data_files()["file_path"].to_pylist())
    assert written.isdisjoint(referenced)
