"""Decisions to Kafka ``decisions`` without ever holding up an answer.

:meth:`DecisionPublisher.publish` only puts the record on a bounded in-memory queue; a
background thread owns the Kafka producer (created lazily and re-created while the broker
is unreachable), serialises and sends. The answer never waits for Kafka. If the queue is
full (Kafka down for long) the record is dropped and counted — the decision was already
given; the count and the log say how many the audit trail is missing.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

_STOP = object()


class DecisionPublisher:
    """Publishes decision records (dicts with ``transaction_id``) to ``topic``, keyed by
    the transaction id. ``on_drop(n)`` is told of every record it had to drop."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        max_queue: int = 100_000,
        on_drop: Callable[[int], None] = lambda n: None,
        client_id: str = "fraudlake-scoring",
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self.on_drop = on_drop
        self.dropped = 0
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="decisions-publisher", daemon=True)
        self._thread.start()

    def publish(self, records: list[dict[str, Any]]) -> None:
        """Queue ``records`` for sending; never blocks."""
        for record in records:
            try:
                self._queue.put_nowait(record)
            except queue.Full:
                self.dropped += 1
                self.on_drop(1)
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.error(
                        "decisions queue full (Kafka %s unreachable?): %d decision record(s) "
                        "dropped so far",
                        self.bootstrap,
                        self.dropped,
                    )

    @property
    def alive(self) -> bool:
        """Whether the sending thread runs (it stops only on :meth:`close`)."""
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (up to ``timeout`` seconds), then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _producer(self) -> KafkaProducer:
        while True:
            try:
                return KafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    client_id=self.client_id,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    # send() waits this long for a topic's metadata, then fails the record
                    # (counted), instead of a minute per record.
                    max_block_ms=5_000,
                    batch_size=256 * 1024,
                    key_serializer=lambda k: str(k).encode(),
                    value_serializer=lambda v: json.dumps(v, separators=(",", ":")).encode(),
                )
            except KafkaError as exc:
                log.warning(
                    "Kafka %s not reachable for decisions (%s); retrying", self.bootstrap, exc
                )
                time.sleep(2.0)

    def _on_error(self, exc: BaseException) -> None:
        self.failed += 1
        if self.failed == 1 or self.failed % 1000 == 0:
            log.error(
                "%d decision record(s) could not be sent to %s; latest: %s",
                self.failed,
                self.topic,
                exc,
            )

    def _run(self) -> None:
        producer: KafkaProducer | None = None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if producer is None:
                producer = self._producer()
            batch = [item]
            # Drain what else is waiting so a burst goes out in one pass.
            while len(batch) < 10_000:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(more)
            for record in batch:
                try:
                    future = producer.send(self.topic, key=record["transaction_id"], value=record)
                except KafkaError as exc:  # no metadata in time (topic missing, broker down)
                    self._on_error(exc)
                    continue
                future.add_errback(self._on_error)
                self.sent += 1
        if producer is not None:
            producer.flush(timeout=10)
            producer.close(timeout=10)
