"""Drain a Kafka topic into an Iceberg table, exactly once, in one bounded run.

:func:`drain_topic_to_table` is one micro-batch, meant to be run again and again (the
``fraud_stream_to_lake`` DAG runs it every five minutes):

1. read the topic's committed offsets from the table (:mod:`~fraudlake.streaming.offsets`);
2. assign every partition of the topic to a group-less consumer and seek to them (to the
   beginning for a partition never consumed); capture the end offsets;
3. poll until every partition reached the end offset captured at the start, or
   ``max_messages`` were read, or ``poll_timeout`` seconds passed;
4. parse the messages (:mod:`~fraudlake.streaming.messages`); malformed ones go to
   ``<home>/dead-letters/<topic>.jsonl``;
5. append the rows with the new offsets in the snapshot summary, in one commit
   (:func:`~fraudlake.streaming.commit_retry.append_with_retry`).

Exactly once, because rows and offsets move in the same atomic commit: a crash before it
leaves the offsets where they were (the next drain reads the same messages again), a crash
after it leaves them past the rows written. A concurrent drain of the same topic into the
same table cannot duplicate either: on a commit conflict the append is rebuilt from the
offsets the winner committed, keeping only the messages the winner did not take.
No consumer group is used; Kafka's committed offsets play no part.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from kafka import KafkaConsumer, TopicPartition
from pyiceberg.expressions import (
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
)
from pyiceberg.table import Table

from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.conform import conform
from fraudlake.lake.snapshot_properties import SINK_DEAD_LETTERS, SINK_TOPIC
from fraudlake.lake.tables import AUDIT_TABLES, RAW_TABLES, TableSpec, ensure_table
from fraudlake.settings import Settings, get_settings
from fraudlake.streaming.commit_retry import BeforeCommit, append_with_retry
from fraudlake.streaming.dead_letters import dead_letter_path, write_dead_letters
from fraudlake.streaming.messages import (
    PAYLOADS,
    ParsedBatch,
    RawMessage,
    StreamMessage,
    parse_messages,
)
from fraudlake.streaming.offsets import committed_offsets, offsets_summary
from fraudlake.streaming.sinks import ROUTES

log = logging.getLogger(__name__)

BOOTSTRAP_ENV = "FRAUDLAKE_KAFKA_BOOTSTRAP"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def kafka_bootstrap(environ: Mapping[str, str] | None = None) -> str:
    """``$FRAUDLAKE_KAFKA_BOOTSTRAP`` (set by the local stack), else ``127.0.0.1:9092``."""
    env = os.environ if environ is None else environ
    return env.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP


@dataclass(frozen=True)
class Sink:
    """A topic, the table it lands in, and the model of its messages."""

    topic: str
    table: TableSpec
    model: type[StreamMessage]


_TABLES = {spec.identifier: spec for spec in [*RAW_TABLES.values(), *AUDIT_TABLES.values()]}

#: The platform's stream sinks (:data:`~fraudlake.streaming.sinks.ROUTES`), resolved to
#: table specs and message models.
SINKS: dict[str, Sink] = {
    name: Sink(route.topic, _TABLES[route.table], PAYLOADS[name]) for name, route in ROUTES.items()
}


class TopicNotFoundError(RuntimeError):
    """The broker does not know the topic (topics are created by the stack, not here)."""


class OffsetsOutOfRangeError(RuntimeError):
    """The table's offsets do not fit the topic: the topic was recreated since, or the
    table's offsets moved backwards (a rollback) while a drain was running."""


@dataclass(frozen=True)
class SinkResult:
    """What one drain did.

    ``offsets_before``/``offsets_after`` are the committed offsets (partition -> next
    offset to read) before and after; ``snapshot_id`` is None when nothing was committed.
    ``caught_up`` tells whether every partition reached the end offset seen at the start
    (False when ``max_messages`` or ``poll_timeout`` cut the drain short: the next drain
    continues). ``lost_to_retention`` counts messages Kafka deleted before they were read.
    """

    topic: str
    table: str
    messages_read: int
    rows_appended: int
    dead_letters: int
    dead_letter_file: str | None
    offsets_before: dict[int, int]
    offsets_after: dict[int, int]
    snapshot_id: int | None
    commit_attempts: int
    commit_conflicts: int
    caught_up: bool
    lost_to_retention: int
    #: Valid messages whose key (:attr:`TableSpec.unique_by`) the table already held.
    duplicates_skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (partition keys as text), e.g. for an Airflow XCom."""
        return {
            "topic": self.topic,
            "table": self.table,
            "messages_read": self.messages_read,
            "rows_appended": self.rows_appended,
            "dead_letters": self.dead_letters,
            "dead_letter_file": self.dead_letter_file,
            "offsets_before": {str(p): o for p, o in sorted(self.offsets_before.items())},
            "offsets_after": {str(p): o for p, o in sorted(self.offsets_after.items())},
            "snapshot_id": self.snapshot_id,
            "commit_attempts": self.commit_attempts,
            "commit_conflicts": self.commit_conflicts,
            "caught_up": self.caught_up,
            "lost_to_retention": self.lost_to_retention,
            "duplicates_skipped": self.duplicates_skipped,
        }


@dataclass(frozen=True)
class _Read:
    messages: list[RawMessage]
    #: Where reading started, per partition of the topic.
    seek: dict[int, int]
    caught_up: bool
    lost_to_retention: int


def _read_topic(
    bootstrap: str,
    topic: str,
    committed: Mapping[int, int],
    *,
    max_messages: int,
    poll_timeout: float,
    consumer_config: Mapping[str, Any] | None,
) -> _Read:
    """Read ``topic`` from ``committed`` (or the beginning) up to the end offsets seen now."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,  # the table holds the position; no group, no Kafka-side commits
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Messages of aborted producer transactions must never land in the lake.
        isolation_level="read_committed",
        client_id=f"fraudlake-sink-{topic}",
        request_timeout_ms=30_000,  # kafka-python's default is 5 minutes
        **dict(consumer_config or {}),
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise TopicNotFoundError(f"Kafka topic {topic!r} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        begin = consumer.beginning_offsets(tps)
        end = consumer.end_offsets(tps)
        seek: dict[int, int] = {}
        lost = 0
        for tp in tps:
            done = committed.get(tp.partition)
            if done is None:
                start = begin[tp]
            elif done > end[tp]:
                raise OffsetsOutOfRangeError(
                    f"{topic}[{tp.partition}]: the table has consumed up to offset {done} but "
                    f"the topic ends at {end[tp]}: was the topic recreated? Nothing was read"
                )
            elif done < begin[tp]:
                # Gone for good; stopping the stream would not bring them back.
                log.warning(
                    "%s[%d]: offsets %d..%d were deleted by retention before being read",
                    topic,
                    tp.partition,
                    done,
                    begin[tp] - 1,
                )
                lost += begin[tp] - done
                start = begin[tp]
            else:
                start = done
            consumer.seek(tp, start)
            seek[tp.partition] = start
        pending = {tp for tp in tps if seek[tp.partition] < end[tp]}
        messages: list[RawMessage] = []
        deadline = time.monotonic() + poll_timeout
        while pending and len(messages) < max_messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            batches = consumer.poll(
                timeout_ms=max(1, int(min(remaining, 1.0) * 1000)),
                max_records=max_messages - len(messages),
            )
            for records in batches.values():
                messages.extend(
                    RawMessage(topic, r.partition, r.offset, r.value, r.key, r.timestamp)
                    for r in records
                )
            # position, not the last record: transaction markers occupy offsets too
            pending = {tp for tp in pending if consumer.position(tp) < end[tp]}
        return _Read(messages, seek, not pending, lost)
    finally:
        consumer.close()


@dataclass
class _Attempt:
    """What the latest ``build`` produced; it runs again on every commit retry."""

    parsed: ParsedBatch
    offsets: dict[int, int]
    duplicates: int = 0


def _model_for(spec: TableSpec) -> type[StreamMessage]:
    for sink in SINKS.values():
        if sink.table.identifier == spec.identifier:
            return sink.model
    raise ValueError(f"no message model for table {spec.identifier}; pass model=")


def key_filter(column: str, values: set[Any]) -> BooleanExpression:
    """``column IN values``, bounded by their min and max as well: Iceberg prunes files by
    column bounds only for an IN of at most 200 values (pyiceberg's IN_PREDICATE_LIMIT),
    and a drain brings thousands; the range prunes every file outside it (ids grow with
    time, so one day's drain reads about one day's files)."""
    present = {v for v in values if v is not None}
    if not present:
        return In(term=column, literals=values)
    return And(
        In(term=column, literals=values),
        GreaterThanOrEqual(term=column, value=min(present)),
        LessThanOrEqual(term=column, value=max(present)),
    )


def without_known_rows(table: Table, data: pa.Table, key: tuple[str, ...]) -> tuple[pa.Table, int]:
    """``data`` without the rows whose ``key`` ``table`` already holds or an earlier row
    of ``data`` has; and how many were dropped. No key: ``data`` as it is."""
    if not key or data.num_rows == 0:
        return data, 0
    seen: set[tuple[Any, ...]] = set()
    if table.current_snapshot() is not None:
        ids = set(data.column(key[0]).to_pylist())
        existing = table.scan(row_filter=key_filter(key[0], ids), selected_fields=key).to_arrow()
        seen = set(zip(*(existing.column(k).to_pylist() for k in key), strict=True))
    keep: list[int] = []
    for i, row_key in enumerate(zip(*(data.column(k).to_pylist() for k in key), strict=True)):
        if row_key not in seen:
            seen.add(row_key)
            keep.append(i)
    return data.take(pa.array(keep, type=pa.int64())), data.num_rows - len(keep)


def drain_topic_to_table(
    settings: Settings,
    bootstrap: str,
    topic: str,
    table_spec: TableSpec,
    *,
    model: type[StreamMessage] | None = None,
    max_messages: int = 100_000,
    poll_timeout: float = 30.0,
    commit_attempts: int = 8,
    before_commit: BeforeCommit | None = None,
    consumer_config: Mapping[str, Any] | None = None,
) -> SinkResult:
    """Append the messages of ``topic`` not yet in ``table_spec``'s table, exactly once.

    Creates the table if missing. Reads at most ``max_messages`` messages for at most
    ``poll_timeout`` seconds, from the offsets the table records (the beginning for
    partitions it has none for) up to the end offsets seen when the drain starts; valid
    messages become rows (``model``, by default the sink model of the table: see
    :data:`SINKS`), malformed ones dead letters in ``<home>/dead-letters/<topic>.jsonl``
    (written before the commit, never twice). Commits rows and new offsets in one snapshot,
    or nothing when there is nothing new. ``before_commit`` (for tests) runs after the
    data files are written, right before each commit attempt.

    Raises :class:`TopicNotFoundError`, :class:`OffsetsOutOfRangeError`,
    :class:`~fraudlake.streaming.offsets.OffsetHistoryLostError`, Kafka errors (broker
    unreachable) and :class:`~fraudlake.streaming.commit_retry.CommitRetriesExhaustedError`;
    in every case the table and its offsets are as they were.
    """
    if max_messages < 1:
        raise ValueError(f"max_messages must be >= 1, got {max_messages}")
    model = model or _model_for(table_spec)
    identifier = table_spec.identifier
    catalog = open_catalog(settings)
    start = committed_offsets(ensure_table(catalog, table_spec), topic)
    read = _read_topic(
        bootstrap,
        topic,
        start,
        max_messages=max_messages,
        poll_timeout=poll_timeout,
        consumer_config=consumer_config,
    )
    read_end: dict[int, int] = {}
    for message in read.messages:
        read_end[message.partition] = max(read_end.get(message.partition, 0), message.offset + 1)
    letters_file = dead_letter_path(settings.resolved_home, topic)
    attempt = _Attempt(ParsedBatch(model.arrow_schema.empty_table(), []), dict(start))

    def build(fresh: Table) -> tuple[pa.Table, dict[str, str]] | None:
        current = committed_offsets(fresh, topic)
        keep_from: dict[int, int] = {}
        new = dict(current)
        for partition, seek in read.seek.items():
            before, now = start.get(partition), current.get(partition)
            if now != before and (now is None or (before is not None and now < before)):
                raise OffsetsOutOfRangeError(
                    f"{identifier}: offsets of {topic}[{partition}] went back from {before} "
                    f"to {now} during the drain (a rollback?); nothing was committed, "
                    "the next drain reads from the table's offsets"
                )
            # Messages a concurrent drain committed meanwhile are already in the table.
            keep_from[partition] = now if now is not None else -1
            # A retention skip (seek past the committed offset) is progress to record too.
            known = [o for o in (now, read_end.get(partition)) if o is not None]
            if before is not None:
                known.append(seek)
            if known:
                new[partition] = max(known)
        kept = [m for m in read.messages if m.offset >= keep_from[m.partition]]
        parsed = parse_messages(kept, model)
        attempt.parsed, attempt.offsets = parsed, new
        if not kept and new == current:
            return None
        data = conform(parsed.table, fresh.schema().as_arrow(), identifier)
        data, attempt.duplicates = without_known_rows(fresh, data, table_spec.unique_by)
        summary = {
            **offsets_summary(topic, new),
            SINK_TOPIC: topic,
            SINK_DEAD_LETTERS: str(len(parsed.dead_letters)),
        }
        return data, summary

    def write_letters_then_commit(number: int) -> None:
        # Before the commit: a crash after it must not lose the letters; a replay after a
        # crash before it finds them already written (write_dead_letters dedupes).
        write_dead_letters(letters_file, attempt.parsed.dead_letters)
        if before_commit is not None:
            before_commit(number)

    outcome = append_with_retry(
        catalog,
        identifier,
        build,
        attempts=commit_attempts,
        before_commit=write_letters_then_commit,
    )
    dead = len(attempt.parsed.dead_letters) if outcome.committed else 0
    if dead:
        log.warning("%s: %d malformed message(s) dead-lettered to %s", topic, dead, letters_file)
    result = SinkResult(
        topic=topic,
        table=identifier,
        messages_read=len(read.messages),
        rows_appended=outcome.rows,
        dead_letters=dead,
        dead_letter_file=str(letters_file) if dead else None,
        offsets_before=dict(start),
        offsets_after=dict(attempt.offsets),
        snapshot_id=outcome.snapshot_id,
        commit_attempts=outcome.attempts,
        commit_conflicts=outcome.conflicts,
        caught_up=read.caught_up,
        lost_to_retention=read.lost_to_retention,
        duplicates_skipped=attempt.duplicates if outcome.committed else 0,
    )
    if result.duplicates_skipped:
        log.info(
            "%s: %d message(s) already in %s (same %s) skipped",
            topic,
            result.duplicates_skipped,
            identifier,
            ", ".join(table_spec.unique_by),
        )
    log.info(
        "%s -> %s: read %d, appended %d rows, %d dead letters, offsets %s -> %s, snapshot %s",
        topic,
        identifier,
        result.messages_read,
        result.rows_appended,
        result.dead_letters,
        result.offsets_before,
        result.offsets_after,
        result.snapshot_id,
    )
    return result


def drain_sink(
    name: str,
    settings: Settings | None = None,
    bootstrap: str | None = None,
    *,
    max_messages: int = 100_000,
    poll_timeout: float = 30.0,
) -> SinkResult:
    """Drain the platform sink ``name`` (a key of :data:`SINKS`) once.

    ``settings`` default to the environment's (:func:`~fraudlake.settings.get_settings`),
    ``bootstrap`` to :func:`kafka_bootstrap`. See :func:`drain_topic_to_table`.
    """
    if name not in SINKS:
        raise ValueError(f"unknown sink {name!r}; known: {', '.join(SINKS)}")
    sink = SINKS[name]
    return drain_topic_to_table(
        settings or get_settings(),
        bootstrap or kafka_bootstrap(),
        sink.topic,
        sink.table,
        model=sink.model,
        max_messages=max_messages,
        poll_timeout=poll_timeout,
    )
