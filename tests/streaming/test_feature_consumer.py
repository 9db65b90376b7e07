"""The plain-Python feature consumer (the bench's baseline) over a real broker and Redis:
the same rows as the batch engine, its watermark as Flink's, bad messages skipped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from fraudlake.features.definitions import FeatureSet, load_feature_set
from fraudlake.online.profiles import write_profiles
from fraudlake.online.reader import OnlineFeatureReader
from fraudlake.stream_features.events import Transaction, stream_time
from fraudlake.stream_features.plan import history_names
from fraudlake.streaming.feature_consumer import (
    ConsumerOptions,
    PartitionWatermarks,
    run_consumer,
)
from fraudlake.streaming.replay import publish
from tests.features.data import random_dataset
from tests.flink.stream_run import batch_rows, mismatches, time_ordered
from tests.services import running_redis
from tests.streaming.conftest import create_topic

REPO = Path(__file__).resolve().parents[2]
BOUND_MS = 30 * 60 * 1000
A, B = TopicPartition("t", 0), TopicPartition("t", 1)


def test_watermark_is_the_slowest_active_partition_minus_the_bound() -> None:
    marks = PartitionWatermarks(bound_us=10, idle_s=5)
    marks.assign({A, B}, now=0)
    marks.see(A, 1000, now=1)
    assert marks.current(now=1) is None  # B has said nothing yet: wait for it
    marks.see(B, 400, now=2)
    assert marks.current(now=2) == 390
    marks.see(B, 300, now=3)  # out of order: the partition's newest stays
    assert marks.current(now=3) == 390
    marks.see(A, 1000, now=6)
    assert marks.current(now=8.5) == 990  # B silent for 5 s: idle, no longer holds back
    marks.see(B, 500, now=9)
    assert marks.current(now=9) == 490


def test_partition_silent_from_the_start_stops_holding_after_the_idle_timeout() -> None:
    marks = PartitionWatermarks(bound_us=0, idle_s=2)
    marks.assign({A, B}, now=0)
    marks.see(A, 50, now=1.5)
    assert marks.current(now=1.9) is None
    assert marks.current(now=2.1) == 50


@pytest.fixture(scope="module")
def online_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    with running_redis(Path(tmp_path_factory.mktemp("redis"))) as client:
        yield client


def _rows(bootstrap: str, topic: str) -> list[dict]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
    )
    try:
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def test_consumer_rows_and_online_vectors_equal_batch(
    kafka_bootstrap: str, online_redis: redis.Redis
) -> None:
    features: FeatureSet = load_feature_set(REPO / "feature_defs")
    tx, customers, labels = random_dataset(7, n=800)
    want = batch_rows(tx, customers, labels, features)
    ordered = time_ordered(tx, labels)
    rng = np.random.default_rng(3)
    jitter = {id(e): int(rng.integers(0, BOUND_MS * 1000)) for e in ordered}
    feed = sorted(ordered, key=lambda e: stream_time(e) + jitter[id(e)])
    topics = [create_topic(kafka_bootstrap) for _ in range(3)]
    publish(iter(feed), kafka_bootstrap, transactions_topic=topics[0], labels_topic=topics[1])
    # Garbage on both topics is counted and skipped, not fatal.
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topics[0], b"{not json")
    producer.send(topics[1], b'{"transaction_id": "x"}')
    producer.flush()
    producer.close()

    online_redis.flushall()
    url = "redis://{host}:{port}/0".format(**online_redis.connection_pool.connection_kwargs)
    options = ConsumerOptions(
        bootstrap=kafka_bootstrap,
        redis_url=url,
        transactions_topic=topics[0],
        labels_topic=topics[1],
        features_topic=topics[2],
        out_of_orderness_ms=BOUND_MS,
        idle_timeout_ms=1000,
        flush_after_ms=1000,
    )
    deadline = time.monotonic() + 120
    result = run_consumer(
        options, features, lambda r: r.rows >= tx.num_rows or time.monotonic() > deadline
    )

    assert (result.transactions, result.labels) == (tx.num_rows, labels.num_rows)
    assert (result.invalid, result.late) == (2, 0)
    rows = _rows(kafka_bootstrap, topics[2])
    got = {r["transaction_id"]: r for r in rows}
    assert len(rows) == len(got) == tx.num_rows
    names = history_names(features)
    bad = mismatches(got, want, names)
    assert not bad, bad[:10]

    # The online store holds what the reader needs: its vector is the batch row.
    write_profiles(online_redis, customers.to_pylist())
    reader = OnlineFeatureReader(online_redis, features)
    last = Transaction.from_row(tx.to_pylist()[-1])
    vector = reader.features_for(last)
    assert not [
        n for n in names if not np.isclose(vector[n], want[last.transaction_id][n], atol=1e-9)
    ]


def test_command_names_a_missing_topic(kafka_bootstrap: str) -> None:
    from typer.testing import CliRunner

    from fraudlake.cli import app

    result = CliRunner().invoke(
        app,
        [
            *("stream", "features", "--bootstrap", kafka_bootstrap),
            *("--redis-url", "redis://127.0.0.1:1/0", "--transactions-topic", "no-such-topic"),
        ],
    )
    assert result.exit_code == 1
    assert "'no-such-topic' does not exist" in result.output
