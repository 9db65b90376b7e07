"""PyFlink job: Kafka ``transactions`` and ``labels`` → streaming features.

A thin adapter over :mod:`fraudlake.stream_features` and :mod:`fraudlake.online`:

* Flink SQL reads both topics (JSON parsing, event time and watermarks run in the JVM;
  ``CURRENT_WATERMARK`` is not needed: late elements are handled per key, below);
* every transaction is written to the Redis online store on arrival, by the first stage
  (:class:`~fraudlake.online.writer.OnlineStoreWriter`, idempotent, so the replay after
  a restore rewrites the same members);
* labels are joined to their transactions keyed by transaction id
  (:mod:`~fraudlake.stream_features.label_join`), the frauds written to Redis too;
* one keyed Python stage per entity of ``feature_defs/``
  (:class:`~fraudlake.stream_features.entity_stage.EntityStage`) adds its window and
  label-window features in event-time order: elements wait for the watermark (an
  event-time timer), then are applied; a key that waits while the watermark stands still
  for ``--flush-after-ms``
  of wall time (a quiet stream) is applied anyway;
* each transaction's feature row goes to Kafka ``features`` through the transactional
  Kafka sink: rows become visible to ``read_committed`` consumers when the checkpoint
  that covers them completes, so a restore neither loses nor repeats a row.

Why Python functions for the windows, not SQL ``OVER``: Flink SQL allows one OVER frame
per SELECT and only frames ending at the current row (inclusive), so DESIGN.md's
``[t - W, t)`` for 10 windows of 3 keys, and the label windows ``[t - D - W, t - D)``
with "reported before t", would take a dozen OVER aggregations joined back together.
``make bench`` measures the SQL OVER rate beside this job's.

Submit with ``fraudlake stack flink submit`` (``flink run -py … -pyexec …``); run it with
``--help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from typing import Any

import redis
from pyflink.common import Configuration, Types
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import (
    CheckpointingMode,
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
    TimeDomain,
)
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.table import StreamTableEnvironment

from fraudlake.features.definitions import load_feature_set
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.stream_features.entity_stage import Element, EntityStage, EntityState
from fraudlake.stream_features.events import KnownFraud, Label, Transaction, parse_ts
from fraudlake.stream_features.label_join import LabelJoinState, join_label, join_transaction
from fraudlake.stream_features.plan import build_stages, history_names
from fraudlake.stream_features.rows import encode_row, feature_row

MS = 1000


def transaction_of(row: Any) -> Transaction:
    return Transaction(
        transaction_id=row.transaction_id,
        event_us=parse_ts(row.event_ts),
        customer_id=row.customer_id,
        card_id=row.card_id,
        terminal_id=row.terminal_id,
        terminal_x=row.terminal_x,
        terminal_y=row.terminal_y,
        amount=row.amount,
        merchant_category=row.merchant_category or "",
        currency=row.currency or "",
    )


def label_of(row: Any) -> Label:
    reported = parse_ts(row.reported_at, "reported_at")
    return Label(row.transaction_id, row.is_fraud, reported, row.fraud_scenario or "")


class JoinLabels(KeyedCoProcessFunction):  # type: ignore[misc]
    """Transaction rows and label rows, keyed by transaction id: emits each fraud once,
    with its transaction, to the label-window stages, and writes it to the online store."""

    def __init__(self, redis_url: str, defs: str) -> None:
        self.redis_url, self.defs = redis_url, defs

    def open(self, runtime_context: RuntimeContext) -> None:
        stages = build_stages(load_feature_set(self.defs))
        self.writer = OnlineStoreWriter(redis.Redis.from_url(self.redis_url), stages)
        self.keep_ms = max(s.span_us + s.grace_us for s in stages) // MS
        self.state = runtime_context.get_state(
            ValueStateDescriptor("label_join", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element1(self, value: Any, ctx: Any) -> Iterable[Element]:
        tx = transaction_of(value)
        state: LabelJoinState = self.state.value() or LabelJoinState()
        # Nothing can need this transaction once every label window has passed it.
        ctx.timer_service().register_event_time_timer(tx.event_us // MS + self.keep_ms)
        return self._joined(state, join_transaction(state, tx))

    def process_element2(self, value: Any, ctx: Any) -> Iterable[Element]:
        label = label_of(value)
        state: LabelJoinState = self.state.value() or LabelJoinState()
        ctx.timer_service().register_event_time_timer(label.reported_us // MS + self.keep_ms)
        return self._joined(state, join_label(state, label))

    def _joined(self, state: LabelJoinState, fraud: KnownFraud | None) -> list[Element]:
        self.state.update(state)
        if fraud is None:
            return []
        self.writer.write(frauds=[fraud])
        return [Element(fraud.reported_us, fraud=fraud)]

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Element]:
        state: LabelJoinState | None = self.state.value()
        newest = None
        if state is not None and state.transaction is not None:
            newest = state.transaction.event_us // MS + self.keep_ms
        if newest is None or timestamp >= newest:
            self.state.clear()
        return []


#: Wall time a stage waits after the last element the stage before it flushed, so the
#: whole burst is in before it flushes in turn: every key of a quiet stage flushes at the
#: same instant, so the burst is one operator's timers, out within a bundle or two (the
#: rest is room for a stalled machine).
FLUSH_BURST_MS = 2000


class ApplyStage(KeyedProcessFunction):  # type: ignore[misc]
    """One entity stage, keyed by the entity's key, its state in Flink state.

    Elements wait for the watermark. A key whose elements wait while, for
    ``flush_after_ms`` of wall time, the watermark has not moved and no element reached
    this operator (a quiet stream, the end of a replay) has them applied anyway. While
    elements flow or the watermark moves, or after a restore (it starts over), the check
    is re-armed: under backpressure the watermark queues behind records, and flushing
    then would turn the next elements into late ones.

    Elements the stage before flushed (``Element.flushed``) do not count as the stream
    moving: the stages after the first pass a flush on :data:`FLUSH_BURST_MS` after its
    burst instead of waiting ``flush_after_ms`` each (three stages made the end of a
    replay wait three times as long)."""

    def __init__(
        self,
        defs: str,
        entity: str,
        flush_after_ms: int,
        redis_url: str | None = None,
        emit_rows: bool = False,
    ) -> None:
        """``redis_url``: this stage takes the source rows and writes each transaction
        to the online store on arrival (the first stage). ``emit_rows``: it yields the
        encoded feature rows instead of elements (the last stage). Fusing both here saves
        two Python operators, each a Java↔Python hand-over per transaction."""
        self.defs, self.entity, self.flush_after_ms = defs, entity, flush_after_ms
        self.redis_url, self.emit_rows = redis_url, emit_rows

    def open(self, runtime_context: RuntimeContext) -> None:
        features = load_feature_set(self.defs)
        stages = build_stages(features)
        self.names = history_names(features)
        self.stage: EntityStage = next(s for s in stages if s.entity == self.entity)
        self.writer = None
        if self.redis_url is not None:
            self.writer = OnlineStoreWriter(redis.Redis.from_url(self.redis_url), stages)
        self.state = runtime_context.get_state(
            ValueStateDescriptor(f"{self.entity}_state", Types.PICKLED_BYTE_ARRAY())
        )
        # Whether this operator is quiet: wall times of its newest element (any key) and
        # of the last watermark move it saw. Not state: after a restore the stream flows
        # again before a flush could be due, so both start at "now".
        now = int(time.time() * 1000)
        self.last_arrival_ms = now
        self.last_flushed_arrival_ms = -(2**63)
        self.watermark, self.watermark_moved_ms = -(2**63), now

    def _out(self, done: list[Element], flushed: bool | None = None) -> Iterable[Element | str]:
        """``done`` for the next stage; ``flushed`` (None: as they came) marks how."""
        if self.emit_rows:
            return [encode_row(feature_row(e, self.names)).decode() for e in done]
        if flushed is not None:
            for element in done:
                element.flushed = flushed
        return done

    def _saw_watermark(self, watermark: int, now: int) -> None:
        if watermark != self.watermark:
            self.watermark, self.watermark_moved_ms = watermark, now

    def process_element(self, value: Any, ctx: Any) -> Iterable[Element | str]:
        if isinstance(value, Element):
            element = value
        else:
            tx = transaction_of(value)
            if self.writer is not None:
                self.writer.write([tx])
            element = Element(tx.event_us, transaction=tx)
        timers = ctx.timer_service()
        # Python's clock, not a Java call per element: Flink's processing time is the
        # same wall clock in epoch milliseconds.
        now = int(time.time() * 1000)
        if element.flushed:
            self.last_flushed_arrival_ms = now
        else:
            self.last_arrival_ms = now
        state: EntityState = self.state.value() or EntityState()
        was_waiting = bool(state.pending)
        done = self.stage.offer(state, element)
        if state.pending:
            timers.register_event_time_timer(element.time_us // MS)
            if element.flushed:  # part of a flush burst: pass the flush on after it
                timers.register_processing_time_timer(now + FLUSH_BURST_MS)
            elif not was_waiting:  # the key starts waiting: check it for a quiet stream later
                timers.register_processing_time_timer(now + self.flush_after_ms)
        self.state.update(state)
        yield from self._out(done)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Element | str]:
        timers = ctx.timer_service()
        watermark = timers.current_watermark()
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            self._saw_watermark(watermark, timestamp)
            state: EntityState | None = self.state.value()
            if state is None or not state.pending:
                return
            quiet = min(timestamp - self.last_arrival_ms, timestamp - self.watermark_moved_ms)
            if quiet < self.flush_after_ms:
                # The stream moves: the watermark will come. Look again later.
                timers.register_processing_time_timer(timestamp + self.flush_after_ms - quiet)
                return
            burst_over = self.last_flushed_arrival_ms + FLUSH_BURST_MS
            if timestamp < burst_over:  # the flush before this stage is still coming in
                timers.register_processing_time_timer(burst_over)
                return
            done = self.stage.advance(state, None)
            flushed = True
        else:
            self._saw_watermark(watermark, timers.current_processing_time())
            state = self.state.value()
            if state is None:
                return
            # Watermark W (ms) means no element with a timestamp ≤ W follows: every event
            # time below (W + 1) ms is final.
            done = self.stage.advance(state, watermark * MS + (MS - 1))
            flushed = False
        self.state.update(state)
        yield from self._out(done, flushed)


def _interval(ms: int) -> str:
    """A SQL interval literal of ``ms`` milliseconds (SECOND alone takes at most 99)."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (
        f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"
    )


def _source_ddl(name: str, columns: str, time_column: str, args: argparse.Namespace) -> str:
    return f"""
        CREATE TABLE {name} (
            {columns},
            -- Event time for watermarks (milliseconds; the exact microseconds are parsed
            -- from the text in Python). An unparsable time becomes the epoch and the row
            -- is dropped by the query below, instead of failing the source.
            rowtime AS COALESCE(TO_TIMESTAMP({time_column}, '{WIRE_TS_FORMAT}'),
                                TIMESTAMP '1970-01-01 00:00:00'),
            WATERMARK FOR rowtime AS rowtime - {_interval(args.out_of_orderness_ms)}
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{getattr(args, f"{name}_topic")}',
            'properties.bootstrap.servers' = '{args.bootstrap}',
            'properties.group.id' = '{args.group_id}',
            'properties.isolation.level' = 'read_committed',
            'scan.startup.mode' = 'group-offsets',
            'properties.auto.offset.reset' = 'earliest',
            'scan.watermark.idle-timeout' = '{args.idle_timeout_ms} ms',
            'format' = 'json',
            'json.timestamp-format.standard' = 'ISO-8601',
            'json.ignore-parse-errors' = 'true'
        )
    """


#: :func:`fraudlake.stream_features.events.format_ts` as a Java DateTimeFormatter pattern.
WIRE_TS_FORMAT = "yyyy-MM-dd''T''HH:mm:ss.SSSSSS''Z''"
#: Times stay text here: the Python side takes only types it can convert back (not
#: TIMESTAMP_LTZ(6)), and parses the exact microseconds itself.
TRANSACTION_COLUMNS = """
    transaction_id BIGINT, event_ts STRING, customer_id BIGINT, card_id STRING,
    terminal_id BIGINT, terminal_x DOUBLE, terminal_y DOUBLE, merchant_category STRING,
    amount DOUBLE, currency STRING"""
TRANSACTION_FIELDS = (
    "transaction_id, event_ts, customer_id, card_id, terminal_id, terminal_x, terminal_y,"
    " merchant_category, amount, currency"
)
LABEL_COLUMNS = """
    transaction_id BIGINT, is_fraud BOOLEAN, fraud_scenario STRING, reported_at STRING"""


def build(env: StreamExecutionEnvironment, args: argparse.Namespace) -> None:
    """Wire the job's graph onto ``env``."""
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.execute_sql(_source_ddl("transactions", TRANSACTION_COLUMNS, "event_ts", args))
    t_env.execute_sql(_source_ddl("labels", LABEL_COLUMNS, "reported_at", args))
    # Malformed JSON is skipped by the format; rows missing a required field here.
    tx_rows = t_env.to_data_stream(
        t_env.sql_query(
            f"SELECT {TRANSACTION_FIELDS} FROM transactions WHERE transaction_id IS NOT NULL"
            f" AND TO_TIMESTAMP(event_ts, '{WIRE_TS_FORMAT}') IS NOT NULL"
            " AND card_id IS NOT NULL AND customer_id IS NOT NULL AND terminal_id IS NOT NULL"
            " AND amount IS NOT NULL AND amount >= 0"
            " AND terminal_x IS NOT NULL AND terminal_y IS NOT NULL"
        )
    )
    label_rows = t_env.to_data_stream(
        t_env.sql_query(
            "SELECT transaction_id, is_fraud, fraud_scenario, reported_at FROM labels"
            " WHERE transaction_id IS NOT NULL AND is_fraud IS NOT NULL"
            f" AND TO_TIMESTAMP(reported_at, '{WIRE_TS_FORMAT}') IS NOT NULL"
        )
    )
    features = load_feature_set(args.feature_defs)
    stages = build_stages(features)

    frauds = (
        tx_rows.connect(label_rows)
        .key_by(lambda row: row.transaction_id, lambda row: row.transaction_id)
        .process(JoinLabels(args.redis_url, args.feature_defs))
        .name("join labels to transactions")
    )

    stream: Any = tx_rows
    for i, stage in enumerate(stages):
        if stage.takes_labels:
            stream = stream.union(frauds)
        last = i == len(stages) - 1
        apply = ApplyStage(
            args.feature_defs,
            stage.entity,
            args.flush_after_ms,
            redis_url=args.redis_url if i == 0 else None,
            emit_rows=last,
        )
        stream = (
            stream.key_by(_key_selector(stage))
            .process(apply, output_type=Types.STRING() if last else None)
            .name(f"{stage.entity} features" + (" (+ online store)" if i == 0 else ""))
        )
    rows = stream
    sink = (
        KafkaSink.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(args.features_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .set_transactional_id_prefix(f"{args.group_id}-features")
        .set_property("transaction.timeout.ms", str(args.transaction_timeout_ms))
        .build()
    )
    rows.sink_to(sink).name(f"kafka: {args.features_topic}")


def _key_selector(stage: EntityStage) -> Any:
    def key(element: Any) -> str:
        if isinstance(element, Element):
            return stage.key_of(element)
        # A source row or a Transaction: the same fields by name.
        return "|".join(str(getattr(element, f)) for f in stage.keys)

    return key


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:56379/0")
    parser.add_argument("--feature-defs", default="feature_defs", help="feature_defs/ folder")
    parser.add_argument("--transactions-topic", default="transactions")
    parser.add_argument("--labels-topic", default="labels")
    parser.add_argument("--features-topic", default="features")
    parser.add_argument("--group-id", default="fraudlake-stream-features")
    parser.add_argument(
        "--out-of-orderness-ms",
        type=int,
        default=5000,
        help="watermark bound: disorder up to this much is applied in event-time order",
    )
    parser.add_argument(
        "--idle-timeout-ms",
        type=int,
        default=10_000,
        help="a partition without messages this long stops holding the watermark back",
    )
    parser.add_argument(
        "--flush-after-ms",
        type=int,
        default=30_000,
        help="wall time without a new element or watermark before waiting elements are"
        " applied anyway (the end of a replay, a quiet stream); keep it above"
        " --idle-timeout-ms",
    )
    parser.add_argument("--checkpoint-interval-ms", type=int, default=5000)
    parser.add_argument(
        "--transaction-timeout-ms",
        type=int,
        default=10 * 60 * 1000,
        help="the broker aborts a features transaction open this long; until then one left"
        " open holds read_committed readers back. Keep it above the longest checkpoint plus"
        " restart, and within the broker's transaction.max.timeout.ms (15 minutes by default)",
    )
    parser.add_argument(
        "--buffer-timeout-ms",
        type=int,
        default=10,
        help="longest a network buffer waits to fill before it is sent (Flink's default: 100)",
    )
    parser.add_argument(
        "--bundle-time-ms",
        type=int,
        default=100,
        help="longest a Python operator collects elements before passing results on"
        " (PyFlink's default: 1000)",
    )
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument(
        "--jar", action="append", default=[], help="a connector jar for the client and the job"
    )
    parser.add_argument("--job-name", default="fraudlake-stream-features")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = Configuration()
    # Thread mode runs the Python functions inside the TaskManager JVM (pemja): several
    # times the throughput of the default process mode for stateful functions.
    config.set_string("python.execution-mode", "thread")
    # Python operators hand results on per bundle: a short bundle keeps the lag low.
    config.set_string("python.fn-execution.bundle.time", str(args.bundle_time_ms))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    if args.jar:
        env.add_jars(*[f"file://{j}" for j in args.jar])
    env.set_parallelism(args.parallelism)
    env.set_buffer_timeout(args.buffer_timeout_ms)
    env.enable_checkpointing(args.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    build(env, args)
    print(json.dumps({"job": args.job_name, "submitted_at": time.time()}), flush=True)
    env.execute(args.job_name)


if __name__ == "__main__":
    main()
