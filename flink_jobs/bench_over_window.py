"""PyFlink job for ``make bench``: one window feature in Flink SQL against a Python function.

The feature: per card, the count and sum of amounts in the hour before each transaction.
``--mode sql`` computes it with ``OVER (PARTITION BY card_id ORDER BY rowtime RANGE
INTERVAL '1' HOUR PRECEDING)`` in the JVM; ``--mode python`` with a keyed Python function
(thread mode) holding the card's last hour in state. Both read the transactions topic from
the beginning to its current end (bounded: the job finishes) and write one JSON row per
transaction to ``--output-topic``, whose broker append times give the rate.

Not the production semantics (``OVER`` includes the current row and same-instant rows);
what it measures is the cost of each engine for the same work.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from pyflink.common import Configuration, Types
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.table import StreamTableEnvironment

from fraudlake.stream_features.events import parse_ts

HOUR_US = 3600 * 1_000_000
WIRE_TS_FORMAT = "yyyy-MM-dd''T''HH:mm:ss.SSSSSS''Z''"


class HourPerCard(KeyedProcessFunction):  # type: ignore[misc]
    """The Python twin of the SQL ``OVER``: the card's last hour (times, amounts)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("hour", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(self, row: Any, ctx: Any) -> Iterable[str]:
        t = parse_ts(row.event_ts)
        times, amounts = self.state.value() or ([], [])
        keep = next((i for i, s in enumerate(times) if s >= t - HOUR_US), len(times))
        times, amounts = [*times[keep:], t], [*amounts[keep:], row.amount]
        self.state.update((times, amounts))
        yield json.dumps(
            {"transaction_id": row.transaction_id, "n": len(times), "total": sum(amounts)}
        )


def build(env: StreamExecutionEnvironment, args: argparse.Namespace) -> None:
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.get_config().set("pipeline.name", args.job_name)
    t_env.execute_sql(f"""
        CREATE TABLE transactions (
            transaction_id BIGINT, event_ts STRING, card_id STRING, amount DOUBLE,
            rowtime AS TO_TIMESTAMP(event_ts, '{WIRE_TS_FORMAT}'),
            WATERMARK FOR rowtime AS rowtime - INTERVAL '5' SECOND
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{args.transactions_topic}',
            'properties.bootstrap.servers' = '{args.bootstrap}',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'latest-offset',
            'format' = 'json'
        )""")
    if args.mode == "sql":
        t_env.execute_sql(f"""
            CREATE TABLE out_rows (transaction_id BIGINT, n BIGINT, total DOUBLE) WITH (
                'connector' = 'kafka',
                'topic' = '{args.output_topic}',
                'properties.bootstrap.servers' = '{args.bootstrap}',
                'format' = 'json'
            )""")
        t_env.execute_sql("""
            INSERT INTO out_rows
            SELECT transaction_id, COUNT(*) OVER w, SUM(amount) OVER w FROM transactions
            WINDOW w AS (PARTITION BY card_id ORDER BY rowtime
                         RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)
        """)
        return
    rows = t_env.to_data_stream(
        t_env.sql_query("SELECT transaction_id, event_ts, card_id, amount FROM transactions")
    )
    sink = (
        KafkaSink.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(args.output_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .build()
    )
    rows.key_by(lambda r: r.card_id).process(HourPerCard(), output_type=Types.STRING()).sink_to(
        sink
    )
    env.execute(args.job_name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["sql", "python"], required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--transactions-topic", default="transactions")
    parser.add_argument("--output-topic", required=True)
    parser.add_argument("--jar", action="append", default=[])
    parser.add_argument("--job-name", default="fraudlake-bench-over-window")
    args = parser.parse_args(argv)
    config = Configuration()
    config.set_string("python.execution-mode", "thread")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    if args.jar:
        env.add_jars(*[f"file://{j}" for j in args.jar])
    env.set_parallelism(1)
    build(env, args)


if __name__ == "__main__":
    main()
