"""The streaming features in one plain Python process: Kafka → stages → Redis + ``features``.

The baseline ``make bench`` sets beside the Flink job, and a way to watch the streaming
path without a Flink cluster. It runs the very stages the job runs
(:class:`~fraudlake.stream_features.local_engine.LocalFeatureEngine`), writes the same
online-store members (one pipelined Redis round trip per poll) and publishes the same
rows. Watermarks follow Flink's rule: per partition, the newest event time minus the
bound; the stream's watermark is the smallest over partitions that are not idle.

What it does not do, by design of a plain consumer: checkpoints. State lives in memory,
so every run reads its topics from the beginning (no committed offsets), and rows go to
``features`` at least once, not exactly once. Use the Flink job for the real thing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from fraudlake.features.definitions import FeatureSet
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.stream_features.entity_stage import Element
from fraudlake.stream_features.events import (
    EventError,
    KnownFraud,
    Label,
    Transaction,
    stream_time,
)
from fraudlake.stream_features.local_engine import LocalFeatureEngine
from fraudlake.stream_features.plan import history_names
from fraudlake.stream_features.rows import encode_row, feature_row

log = logging.getLogger(__name__)
US = 1_000_000


class PartitionWatermarks:
    """Flink's source watermark in plain Python.

    Per partition: the newest event time seen minus ``bound_us``. The watermark is the
    smallest of those over partitions that had a record in the last ``idle_s`` seconds of
    wall time; a partition assigned but silent that long stops holding it back. ``None``
    until some partition counts.
    """

    def __init__(self, bound_us: int, idle_s: float) -> None:
        self.bound_us = bound_us
        self.idle_s = idle_s
        self._newest: dict[TopicPartition, int] = {}
        self._heard: dict[TopicPartition, float] = {}

    def assign(self, partitions: set[TopicPartition], now: float) -> None:
        """Partitions that exist but have not spoken yet hold the watermark until idle."""
        for tp in partitions:
            self._heard.setdefault(tp, now)

    def see(self, tp: TopicPartition, time_us: int, now: float) -> None:
        if time_us > self._newest.get(tp, time_us - 1):
            self._newest[tp] = time_us
        self._heard[tp] = now

    def current(self, now: float) -> int | None:
        active = [tp for tp, heard in self._heard.items() if now - heard < self.idle_s]
        if any(tp not in self._newest for tp in active):
            return None  # an active partition with nothing yet: wait for it
        if not active:
            # Everything idle: the newest of all, as Flink's sources advance when idle.
            active = list(self._newest)
        if not active:
            return None
        return min(self._newest[tp] for tp in active) - self.bound_us


@dataclass
class ConsumerOptions:
    bootstrap: str
    redis_url: str
    transactions_topic: str = "transactions"
    labels_topic: str = "labels"
    features_topic: str = "features"
    out_of_orderness_ms: int = 5000
    idle_timeout_ms: int = 10_000
    #: Wall time without a record or a watermark move before waiting elements are applied.
    flush_after_ms: int = 30_000
    max_poll_records: int = 2000


@dataclass
class ConsumerResult:
    transactions: int = 0
    labels: int = 0
    rows: int = 0
    invalid: int = 0
    late: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _assign_all(consumer: KafkaConsumer, topics: list[str]) -> set[TopicPartition]:
    """Every partition of ``topics``, from the beginning (no consumer group: one process
    reads everything, and state in memory means no offsets worth committing)."""
    partitions: set[TopicPartition] = set()
    for topic in topics:
        found = consumer.partitions_for_topic(topic)
        if not found:
            raise ValueError(f"Kafka topic {topic!r} does not exist; create it or replay first")
        partitions |= {TopicPartition(topic, p) for p in found}
    consumer.assign(list(partitions))
    consumer.seek_to_beginning()
    return partitions


def run_consumer(
    options: ConsumerOptions,
    features: FeatureSet,
    should_stop: Callable[[ConsumerResult], bool],
) -> ConsumerResult:
    """Consume until ``should_stop(result)`` holds (checked after every poll); then apply
    what still waits and publish it. Returns the counts."""
    result = ConsumerResult()
    frauds: list[KnownFraud] = []
    engine = LocalFeatureEngine(
        features,
        out_of_orderness_us=None,
        on_fraud=frauds.append,
    )
    names = history_names(features)
    writer = OnlineStoreWriter(redis.Redis.from_url(options.redis_url), engine.stages)
    watermarks = PartitionWatermarks(
        options.out_of_orderness_ms * 1000, options.idle_timeout_ms / 1000
    )
    with ExitStack() as cleanup:
        consumer = KafkaConsumer(
            bootstrap_servers=options.bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_poll_records=options.max_poll_records,
            client_id="fraudlake-feature-consumer",
        )
        cleanup.callback(consumer.close)
        cleanup.callback(writer.client.close)
        producer = KafkaProducer(
            bootstrap_servers=options.bootstrap,
            acks="all",
            linger_ms=5,
            client_id="fraudlake-feature-consumer",
        )
        cleanup.callback(producer.close, timeout=10)
        topics: dict[str, type[Transaction] | type[Label]] = {
            options.transactions_topic: Transaction,
            options.labels_topic: Label,
        }
        partitions = _assign_all(consumer, list(topics))

        def publish(done: list[Element]) -> None:
            for element in done:
                row = feature_row(element, names)
                result.late += bool(row["late"])
                producer.send(options.features_topic, encode_row(row))
            result.rows += len(done)

        started = time.monotonic()
        still_since = started
        last_watermark: int | None = None
        try:
            while not should_stop(result):
                batch = consumer.poll(timeout_ms=100)
                now = time.monotonic()
                watermarks.assign(partitions, now)
                transactions: list[Transaction] = []
                done: list[Element] = []
                for tp, records in batch.items():
                    for record in records:
                        try:
                            event = topics[tp.topic].from_json(record.value)
                        except EventError as exc:
                            result.invalid += 1
                            log.warning("skipped %s offset %d: %s", tp, record.offset, exc)
                            continue
                        watermarks.see(tp, stream_time(event), now)
                        if isinstance(event, Transaction):
                            transactions.append(event)
                            result.transactions += 1
                            done += engine.add_transaction(event)
                        else:
                            result.labels += 1
                            done += engine.add_label(event)
                if transactions or frauds:
                    writer.write(transactions, frauds)  # on arrival, before the watermark
                    frauds.clear()
                watermark = watermarks.current(now)
                if batch:
                    still_since = now
                if watermark is not None and watermark != last_watermark:
                    last_watermark, still_since = watermark, now
                    done += engine.advance_to(watermark)
                elif now - still_since >= options.flush_after_ms / 1000:
                    # Quiet: no record and no watermark move for that long (as the Flink job).
                    done += engine.flush()
                    still_since = now
                publish(done)
            publish(engine.flush())
            producer.flush(timeout=60)
        finally:
            result.seconds = time.monotonic() - started
    return result
