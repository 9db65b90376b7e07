"""Drive the streaming-features job on the test cluster: feed, submit, collect, compare."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import FeatureSet
from fraudlake.stack.config import StackConfig
from fraudlake.stack.flink_jobs import FlinkJobs
from fraudlake.stream_features.events import Label, Transaction, stream_time
from fraudlake.streaming.replay import publish

Event = Transaction | Label


def time_ordered(tx: pa.Table, labels: pa.Table) -> list[Event]:
    events: list[Event] = [Transaction.from_row(r) for r in tx.to_pylist()]
    events += [Label.from_row(r) for r in labels.to_pylist()]
    return sorted(events, key=stream_time)


def batch_rows(
    tx: pa.Table, customers: pa.Table, labels: pa.Table, features: FeatureSet
) -> dict[int, dict]:
    rows = compute_features(tx, customers, labels, features).to_pylist()
    return {r["transaction_id"]: r for r in rows}


@dataclass(frozen=True)
class Topics:
    """A run's own topics and consumer group, so tests sharing a broker stay apart."""

    transactions: str = "transactions"
    labels: str = "labels"
    features: str = "features"
    group: str = "fraudlake-stream-features"

    @property
    def job_args(self) -> list[str]:
        return [
            "--transactions-topic",
            self.transactions,
            "--labels-topic",
            self.labels,
            "--features-topic",
            self.features,
            "--group-id",
            self.group,
        ]


def send(
    config: StackConfig, events: list[Event], rate: float = 0.0, topics: Topics = Topics()
) -> None:
    result = publish(
        iter(events),
        config.kafka_bootstrap,
        rate,
        transactions_topic=topics.transactions,
        labels_topic=topics.labels,
    )
    assert result.transactions + result.labels == len(events)


def _committed_reader(config: StackConfig, topic: str, idle_ms: int) -> KafkaConsumer:
    """``topic`` from the start, committed transactions only; iteration pauses after
    ``idle_ms`` without a message."""
    return KafkaConsumer(
        topic,
        bootstrap_servers=config.kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
        consumer_timeout_ms=idle_ms,
    )


@dataclass
class Collected:
    rows: dict[int, list[dict]]

    def duplicates(self) -> dict[int, int]:
        return {tid: len(r) for tid, r in self.rows.items() if len(r) > 1}


def collect_features(
    config: StackConfig,
    expected: int,
    timeout: float = 300.0,
    topic: str = "features",
    explain: Callable[[], str] = lambda: "",
) -> Collected:
    """Read Kafka ``features`` (committed transactions only) from the beginning until
    ``expected`` distinct transactions have a row and nothing more comes for 3 s.
    Short of that at ``timeout``, fails with ``explain()`` in the message."""
    consumer = _committed_reader(config, topic, idle_ms=3000)
    rows: dict[int, list[dict]] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            before = sum(len(r) for r in rows.values())
            for message in consumer:
                row = json.loads(message.value)
                rows.setdefault(row["transaction_id"], []).append(row)
            quiet = sum(len(r) for r in rows.values()) == before
            if not quiet:
                print(f"features: {len(rows)} of {expected} transactions have a row", flush=True)
            if len(rows) >= expected and quiet:
                break
    finally:
        consumer.close()
    assert len(rows) >= expected, (
        f"only {len(rows)} of {expected} feature rows after {timeout}s; {explain()}"
    )
    return Collected(rows)


def stall_report(config: StackConfig, jobs: FlinkJobs, job_id: str, topics: Topics) -> str:
    """Why rows stopped coming: the job's state, restarts, checkpoint counts and latest
    failures (Flink's REST API); how far the job's consumer group has read the source
    topics (offsets it commits on each checkpoint) against their ends; and per partition
    of the features topic the end offset against the last stable offset (an open
    transaction holds read_committed readers below it)."""
    parts = []
    try:
        job = jobs.get(f"/jobs/{job_id}")
        checkpoints = jobs.get(f"/jobs/{job_id}/checkpoints").get("counts", {})
        metrics = jobs.get(f"/jobs/{job_id}/metrics?get=numRestarts")
        history = jobs.get(f"/jobs/{job_id}/exceptions").get("exceptionHistory", {})
        failures = [
            (e.get("timestamp"), (e.get("stacktrace") or e.get("exceptionName", ""))[:600])
            for e in history.get("entries", [])[:3]
        ]
        parts.append(
            f"job {job['state']}, restarts {[m['value'] for m in metrics]}, "
            f"checkpoints {checkpoints}, latest failures {failures}"
        )
    except Exception as exc:  # the report must not hide the test's own failure
        parts.append(f"job unreadable: {exc!r}")
    try:
        admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap)
        try:
            read = admin.list_consumer_group_offsets(topics.group)
        finally:
            admin.close()
        names = [topics.transactions, topics.labels, topics.features]
        ends = _end_offsets(config, names, "read_uncommitted")
        sources = {tp: o for tp, o in ends.items() if tp.topic != topics.features}
        written = {tp: o for tp, o in ends.items() if tp.topic == topics.features}
        stable = _end_offsets(config, [topics.features], "read_committed")
        parts.append(f"group {topics.group} read {_by_partition(read)} of {_by_partition(sources)}")
        parts.append(
            f"{topics.features} end offsets {_by_partition(written)}, "
            f"last stable offsets {_by_partition(stable)}"
        )
    except Exception as exc:
        parts.append(f"offsets unreadable: {exc!r}")
    return "; ".join(parts)


def _end_offsets(
    config: StackConfig, names: list[str], isolation: str
) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap, isolation_level=isolation)
    try:
        partitions = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def _by_partition(offsets: dict[TopicPartition, Any]) -> dict[str, int]:
    """``{"topic/partition": offset}``, sorted; committed offsets come as
    ``OffsetAndMetadata``."""
    return {
        f"{tp.topic}/{tp.partition}": getattr(o, "offset", o) for tp, o in sorted(offsets.items())
    }


def mismatches(
    got: dict[int, dict[str, float]], want: dict[int, dict], names: list[str]
) -> list[tuple[int, str, float, float]]:
    return [
        (tid, n, got[tid][n], want[tid][n])
        for tid in want
        for n in names
        if not np.isclose(got[tid][n], want[tid][n], rtol=0, atol=1e-9)
    ]


def redis_client(config: StackConfig) -> redis.Redis:
    return redis.Redis.from_url(config.redis_url)


def wait_for_rows(config: StackConfig, topic: str, at_least: int, timeout: float = 120.0) -> None:
    """Block until ``topic`` holds at least ``at_least`` committed rows."""
    consumer = _committed_reader(config, topic, idle_ms=1000)
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while seen < at_least:
            assert time.monotonic() < deadline, f"only {seen} rows in {topic} after {timeout}s"
            seen += sum(1 for _ in consumer)
    finally:
        consumer.close()
