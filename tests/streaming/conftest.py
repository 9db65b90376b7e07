"""One real Kafka broker for the whole session, a fresh embedded lake for every test.

The broker is :class:`~fraudlake.stack.kafka.KafkaService` (Kafka 4, KRaft) from the jars
in ``.tools/kafka/libs``, on free ports in a temporary state folder, and is always stopped
at the end. Every test gets its own topics (unique names, two partitions, so ordering and
offsets are per partition as in production) and its own state home: a SQLite Iceberg
catalog and a local warehouse under ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from fraudlake.settings import Settings
from tests.kafka_broker import running_broker

HEALTH_TIMEOUT = 90.0
PARTITIONS = 2
#: Settings that would point the tests at a running stack instead of the temporary lake.
STACK_ENV = (
    "FRAUDLAKE_HOME",
    "FRAUDLAKE_CATALOG_URI",
    "FRAUDLAKE_WAREHOUSE",
    "FRAUDLAKE_S3_ENDPOINT",
    "FRAUDLAKE_S3_ACCESS_KEY",
    "FRAUDLAKE_S3_SECRET_KEY",
    "FRAUDLAKE_KAFKA_BOOTSTRAP",
)
REPORTED = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a started, healthy broker shared by the session; always stopped."""
    with running_broker(tmp_path_factory.mktemp("stack"), topics=[]) as (service, _):
        yield service.config.kafka_bootstrap


def create_topic(bootstrap: str, name: str | None = None, partitions: int = PARTITIONS) -> str:
    """A new topic (by default with a unique name); returns once its partitions have leaders."""
    name = name or f"test-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=30_000)
        deadline = time.monotonic() + 30
        while True:
            (described,) = admin.describe_topics([name])
            ready = [p for p in described.get("partitions", []) if p.get("leader", -1) >= 0]
            if described.get("error_code", 0) == 0 and len(ready) == partitions:
                return name
            assert time.monotonic() < deadline, f"topic {name} not ready: {described}"
            time.sleep(0.1)
    finally:
        admin.close()


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    """A fresh two-partition topic for this test."""
    return create_topic(kafka_bootstrap)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded settings: SQLite catalog and warehouse folder under ``tmp_path/home``."""
    for name in STACK_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("FRAUDLAKE_HOME", str(home))
    return Settings(home=home, catalog_uri=None, warehouse=None, s3_endpoint=None)


def clean_env(home: Path) -> dict[str, str]:
    """This process's environment for a child process, pointed at ``home`` only."""
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV}
    env["FRAUDLAKE_HOME"] = str(home)
    return env


def produce(
    bootstrap: str, topic: str, values: Sequence[bytes | None], partitions: int = PARTITIONS
) -> None:
    """Send ``values`` round-robin over the partitions and wait until all are acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(topic, value=value, key=f"k{i}".encode(), partition=i % partitions)
            for i, value in enumerate(values)
        ]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def label(transaction_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid ``labels`` payload."""
    return {
        "transaction_id": transaction_id,
        "is_fraud": True,
        "fraud_scenario": "compromised_card",
        "reported_at": (REPORTED + dt.timedelta(hours=transaction_id % 50)).isoformat(),
        **overrides,
    }


def decision(transaction_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid ``decisions`` payload."""
    return {
        "transaction_id": transaction_id,
        "event_ts": "2024-03-01T11:59:59.5+00:00",
        "card_id": f"card-{transaction_id % 7}",
        "terminal_id": transaction_id % 11,
        "amount": 12.5 + transaction_id,
        "score": 0.91,
        "decision": "decline",
        "model_name": "fraud-detector",
        "model_version": "4",
        "reasons": [{"feature": "amount_vs_usual", "contribution": 0.4}, "new_terminal"],
        "decided_at": "2024-03-01T12:00:00.120+00:00",
        **overrides,
    }


def encode(payloads: Sequence[dict[str, Any]]) -> list[bytes | None]:
    return [json.dumps(p).encode() for p in payloads]


def labels(ids: range) -> list[bytes | None]:
    """Encoded valid labels for ``ids``."""
    return encode([label(i) for i in ids])
