"""Kafka topics into Iceberg tables, exactly once.

The sink reads a topic from the offsets recorded *in the table it writes* and commits the
new rows together with the new offsets in one Iceberg snapshot, so the table is the only
source of truth about what was consumed: a crash before the commit loses nothing (offsets
did not move), a crash after it duplicates nothing (they moved with the rows).

- :mod:`~fraudlake.streaming.messages`: the JSON payloads of ``decisions`` and ``labels``,
  parsed into Arrow rows; malformed messages become dead letters, never silent drops;
- :mod:`~fraudlake.streaming.dead_letters`: dead letters as JSON lines under the state home;
- :mod:`~fraudlake.streaming.offsets`: consumed offsets in snapshot summaries;
- :mod:`~fraudlake.streaming.commit_retry`: appends retried on commit conflicts, each
  attempt rebuilt from the table's fresh state;
- :mod:`~fraudlake.streaming.kafka_to_lake`: one bounded drain of a topic into a table;
- :mod:`~fraudlake.streaming.sinks`: which topic goes to which table (light, for the DAG).
"""
