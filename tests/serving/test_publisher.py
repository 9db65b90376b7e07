"""The decisions publisher outlives Kafka trouble: a record it cannot send is counted,
the thread keeps going, and the answer path never waits."""

from __future__ import annotations

import time
import uuid

from fraudlake.serving.publisher import DecisionPublisher
from tests.serving.conftest import read_decisions
from tests.streaming.conftest import create_topic


def test_a_missing_topic_fails_its_records_not_the_publisher(kafka: str) -> None:
    publisher = DecisionPublisher(kafka, f"missing-{uuid.uuid4().hex[:8]}")
    try:
        started = time.monotonic()
        publisher.publish([{"transaction_id": 1}, {"transaction_id": 2}])
        assert time.monotonic() - started < 0.1  # publish never waits for Kafka
        deadline = time.monotonic() + 30
        while publisher.failed < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert publisher.failed == 2 and publisher.alive
        publisher.topic = create_topic(kafka, partitions=1)
        publisher.publish([{"transaction_id": 3}])
        records = read_decisions(kafka, publisher.topic, 1)
        assert [r["transaction_id"] for r in records] == [3]
    finally:
        publisher.close(timeout=10)
    assert not publisher.alive


def test_a_full_queue_drops_and_counts_instead_of_blocking(kafka: str) -> None:
    dropped: list[int] = []
    publisher = DecisionPublisher(
        kafka, f"missing-{uuid.uuid4().hex[:8]}", max_queue=3, on_drop=dropped.append
    )
    try:
        started = time.monotonic()
        publisher.publish([{"transaction_id": i} for i in range(50)])
        assert time.monotonic() - started < 0.1
        assert publisher.dropped == len(dropped) >= 40
    finally:
        publisher.close(timeout=1)
