"""Run by the crash test as a separate process: drain a topic into ``raw.labels`` and stop
dead right before the Iceberg commit, where the test SIGKILLs this process.

Usage: ``python drain_until_killed.py <home> <bootstrap> <topic> <marker file>``. The
marker is written once the data files are written and the commit is next; then the
process sleeps. If the drain ever returns, the process exits 3 (the test fails on it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fraudlake.lake.tables import RAW_TABLES
from fraudlake.settings import Settings
from fraudlake.streaming.kafka_to_lake import drain_topic_to_table


def main(home: str, bootstrap: str, topic: str, marker: str) -> int:
    def wait_to_be_killed(attempt: int) -> None:
        Path(marker).write_text(f"attempt {attempt}\n")
        time.sleep(600)

    drain_topic_to_table(
        Settings(home=Path(home)),
        bootstrap,
        topic,
        RAW_TABLES["labels"],
        before_commit=wait_to_be_killed,
    )
    return 3


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
