"""The streaming-features job survives failures mid-stream: a killed TaskManager, and
separately a restarted Kafka broker. Afterwards every transaction has exactly one row
in ``features`` (read committed) and the values still equal the batch engine's."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from fraudlake.features.definitions import FeatureSet
from fraudlake.stack.flink_jobs import FlinkJobs
from fraudlake.stack.manager import Stack
from fraudlake.stream_features.plan import history_names
from tests.features.data import random_dataset
from tests.flink.stream_run import (
    Topics,
    batch_rows,
    collect_features,
    mismatches,
    send,
    stall_report,
    time_ordered,
    wait_for_rows,
)

pytestmark = pytest.mark.slow

#: Events per second while the failure happens: the stream is mid-way, not done.
RATE = 120.0
#: Longer than the outage (a broker restart under load took ~20 s): with the default
#: 10 s every partition turns idle meanwhile, the first one back moves the watermark
#: alone, and in this replay (hours of event time per second) the other's records come
#: late. The quiet-stream flush likewise must not fire during the outage.
#: A transaction left open by the outage (one the recovery did not fence, a commit that
#: keeps failing) holds read_committed readers back until the broker aborts it: two
#: minutes here instead of the job's ten, so such a stall ends within the collect
#: timeout and the test then judges what was lost or repeated. (It does not end the
#: stall once found here — commit markers Kafka dropped while the single node shut
#: down, a transaction its coordinator thinks finished; the stack's broker now stops
#: without a controlled shutdown, see fraudlake.stack.kafka.)
OUTAGE_ARGS = [
    *("--idle-timeout-ms", "60000"),
    *("--flush-after-ms", "60000"),
    *("--transaction-timeout-ms", "120000"),
]


def _survives(
    stack: Stack, topics: Topics, features: FeatureSet, seed: int, failure: Callable[[], None]
) -> None:
    config = stack.config
    tx, customers, labels = random_dataset(seed, n=2000)
    want = batch_rows(tx, customers, labels, features)
    events = time_ordered(tx, labels)
    with FlinkJobs(config) as jobs:
        job, _ = jobs.submit_features_job(resume=False, extra_args=[*topics.job_args, *OUTAGE_ARGS])
        try:
            errors: list[BaseException] = []

            def replay() -> None:
                try:
                    send(config, events, RATE, topics)
                except BaseException as exc:  # surfaced in the test's thread below
                    errors.append(exc)

            sender = threading.Thread(target=replay)
            sender.start()
            wait_for_rows(config, topics.features, at_least=200)
            failure()
            sender.join()
            assert not errors, f"the replay failed: {errors[0]!r}"
            got = collect_features(
                config,
                tx.num_rows,
                topic=topics.features,
                explain=lambda: stall_report(config, jobs, job.job_id, topics),
            )
        finally:
            jobs.cancel(job.job_id)
    assert not got.duplicates(), f"rows repeated after recovery: {list(got.duplicates())[:10]}"
    assert got.rows.keys() == want.keys()
    stream = {tid: rows[0] for tid, rows in got.rows.items()}
    bad = mismatches(stream, want, history_names(features))
    assert not bad, bad[:10]


def test_a_killed_taskmanager_loses_and_repeats_nothing(
    stream_stack: Stack, topics: Topics, project_features: FeatureSet
) -> None:
    def kill_taskmanager() -> None:
        pid = stream_stack.table.pid("flink-taskmanager")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while stream_stack.table.running("flink-taskmanager"):
            time.sleep(0.2)
        time.sleep(3)  # the stream goes on into Kafka meanwhile
        stream_stack.up(["flink"])  # as a supervisor would: a new TaskManager

    _survives(stream_stack, topics, project_features, 7, kill_taskmanager)


def test_a_restarted_broker_loses_and_repeats_nothing(
    stream_stack: Stack, topics: Topics, project_features: FeatureSet
) -> None:
    def restart_kafka() -> None:
        stream_stack.down(["kafka"])
        time.sleep(2)
        stream_stack.up(["kafka"])

    _survives(stream_stack, topics, project_features, 8, restart_kafka)
