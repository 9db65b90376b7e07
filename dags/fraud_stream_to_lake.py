"""Airflow DAG ``fraud_stream_to_lake``: Kafka ``decisions`` and ``labels`` into Iceberg.

A thin adapter: one task per stream sink of :data:`fraudlake.streaming.sinks.ROUTES`, each
calling :func:`fraudlake.streaming.kafka_to_lake.drain_sink` once. The offsets live in
the Iceberg tables themselves, so a retried, skipped or overlapping run neither loses nor
duplicates a message. The Kafka bootstrap is read from ``$FRAUDLAKE_KAFKA_BOOTSTRAP``
when a task runs (default ``127.0.0.1:9092``); the lake from the ``FRAUDLAKE_*`` settings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from fraudlake.streaming.sinks import ROUTES, SinkRoute

DOC_MD = """
# fraud_stream_to_lake

Every five minutes, drains each Kafka topic into its Iceberg table, exactly once:

{routes}

Each task reads the offsets recorded in its table's snapshots, consumes up to the end of
the topic as it was when the task started, and appends the rows together with the new
offsets in one Iceberg commit. A failed or retried task loses nothing and duplicates
nothing. Malformed messages are kept in `<FRAUDLAKE_HOME>/dead-letters/<topic>.jsonl`
(with partition, offset and the reason) and counted in the task's log and return value.

Kafka: `$FRAUDLAKE_KAFKA_BOOTSTRAP` (default `127.0.0.1:9092`), read at run time.
""".format(routes="\n".join(f"- `{r.topic}` → `{r.table}`" for r in ROUTES.values()))


def sink_task(route: SinkRoute) -> Any:
    """The task draining ``route`` once; returns the drain's summary as its XCom."""

    @task(
        task_id=f"{route.name}_to_lake",
        retries=2,
        retry_delay=timedelta(seconds=30),
        # A drain is bounded (poll timeout, message cap); one that hangs must not block
        # the next runs (max_active_runs=1).
        execution_timeout=timedelta(minutes=4),
        doc_md=f"Drain Kafka `{route.topic}` into Iceberg `{route.table}` once.",
    )
    def drain() -> dict[str, Any]:
        # Imported here: pyiceberg and the Kafka client are slow to import, and the DAG
        # processor parses this file often.
        from fraudlake.streaming.kafka_to_lake import drain_sink

        return drain_sink(route.name).to_dict()

    return drain()


with DAG(
    dag_id="fraud_stream_to_lake",
    description="Kafka decisions and labels into Iceberg, exactly once, every 5 minutes",
    schedule=timedelta(minutes=5),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags={"fraudlake", "kafka", "iceberg", "stream"},
    doc_md=DOC_MD,
) as dag:
    for sink_route in ROUTES.values():
        sink_task(sink_route)
