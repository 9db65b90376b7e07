"""Which topic lands in which table: the platform's stream sinks, by name.

Kept free of heavy imports (no pyiceberg, no Kafka client) so that the Airflow DAG can
build one task per sink at parse time cheaply; the work happens in
:mod:`fraudlake.streaming.kafka_to_lake`, imported only when a task runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SinkRoute:
    """A sink's name, the Kafka topic it reads and the Iceberg table it writes."""

    name: str
    topic: str
    table: str


#: Scoring decisions for the audit trail; investigation outcomes next to the
#: batch-ingested ones.
ROUTES: dict[str, SinkRoute] = {
    "decisions": SinkRoute("decisions", topic="decisions", table="audit.decisions"),
    "labels": SinkRoute("labels", topic="labels", table="raw.labels"),
}
