"""A real Kafka 4 broker (KRaft, broker+controller) from the jars in .tools/kafka/libs:
format, start, health, topics, a message round trip, idempotent re-runs, clean stop.

No mocks and no skip: without the jars the test fails with kafka_libs()'s message naming
`make install`, which provides them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from fraudlake.stack.kafka import KafkaService
from fraudlake.stack.process import ProcessTable
from fraudlake.stack.service import port_open
from tests.kafka_broker import running_broker

HEALTH_TIMEOUT = 60.0


def _processes_using(path: Path) -> list[int]:
    """Pids of live java processes whose command line mentions ``path``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"java") and any(str(path).encode() in a for a in args):
            pids.append(int(cmdline.parent.name))
    return pids


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[tuple[KafkaService, ProcessTable]]:
    """A prepared, started and healthy broker in ``tmp_path``; always stopped after."""
    with running_broker(tmp_path) as broker:
        yield broker


def test_broker_serves_topics_and_stops_cleanly(
    kafka: tuple[KafkaService, ProcessTable],
) -> None:
    service, table = kafka
    bootstrap = service.config.kafka_bootstrap
    assert service.urls() == {"bootstrap": bootstrap}
    assert set(service.ports().values()) == {
        service.config.kafka.port,
        service.config.kafka.controller_port,
    }

    service.after_start()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        topics = set(admin.list_topics())
    finally:
        admin.close()
    assert {"transactions", "features", "decisions", "labels"} <= topics

    # a round trip through a consumer group exercises __consumer_offsets (one replica)
    payload = uuid.uuid4().hex.encode()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send("transactions", key=b"card-1", value=payload).get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        "transactions",
        bootstrap_servers=bootstrap,
        group_id="test-kafka-service",
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    received: list[tuple[bytes | None, bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            received += [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()
    assert received == [(b"card-1", payload)]

    # both hooks are idempotent: no error, no reformat, the cluster id kept
    service.after_start()
    cluster_id = service.cluster_id_path.read_text()
    meta = (service.data_dir / "meta.properties").read_text()
    service.prepare()
    assert service.cluster_id_path.read_text() == cluster_id
    assert (service.data_dir / "meta.properties").read_text() == meta
    assert f"cluster.id={cluster_id.strip()}" in meta

    assert table.stop(service.name)
    assert not port_open(service.config.host, service.config.kafka.port)
    assert not table.running(service.name)
    assert _processes_using(service.state_dir) == []
    assert service.healthy() is False
