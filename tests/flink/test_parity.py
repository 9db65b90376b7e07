"""The same generated transactions through the batch engine and through Kafka → Flink →
Redis / ``features`` give the same feature values, for every transaction: out-of-order
within the watermark bound, same-instant transactions, and an event far behind the
watermark included; the online reader's vector equals the batch row."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fraudlake.features.definitions import FeatureSet
from fraudlake.online.profiles import write_profiles
from fraudlake.online.reader import OnlineFeatureReader
from fraudlake.stack.flink_jobs import FlinkJobs
from fraudlake.stack.manager import Stack
from fraudlake.stream_features.events import Transaction, stream_time
from fraudlake.stream_features.plan import history_names
from tests.features.data import random_dataset
from tests.flink.stream_run import (
    Topics,
    batch_rows,
    collect_features,
    mismatches,
    redis_client,
    send,
    time_ordered,
)

pytestmark = pytest.mark.slow

BOUND_MS = 30 * 60 * 1000  # the job's watermark bound in this test: 30 minutes


def test_flink_features_equal_batch(
    stream_stack: Stack, topics: Topics, project_features: FeatureSet
) -> None:
    feature_set = project_features
    config = stream_stack.config
    tx, customers, labels = random_dataset(5, n=1500)
    rows = tx.to_pylist()
    # One transaction of a card, terminal and customer-terminal pair of its own, sent
    # after everything else: days behind the watermark when it arrives.
    stray = {**rows[700], "transaction_id": 10**9, "card_id": "stray-card", "terminal_id": 999}
    tx = tx.from_pylist([*rows, stray], schema=tx.schema)
    want = batch_rows(tx, customers, labels, feature_set)

    ordered = time_ordered(tx, labels)
    late = next(e for e in ordered if isinstance(e, Transaction) and e.transaction_id == 10**9)
    ordered.remove(late)
    # Every other event arrives up to the bound after its time: shuffled, never by more.
    rng = np.random.default_rng(11)
    jitter = {id(e): int(rng.integers(0, BOUND_MS * 1000)) for e in ordered}
    feed = sorted(ordered, key=lambda e: stream_time(e) + jitter[id(e)])
    assert feed != ordered
    send(config, [*feed, late], topics=topics)

    client = redis_client(config)
    write_profiles(client, customers.to_pylist())
    with FlinkJobs(config) as jobs:
        job, _ = jobs.submit_features_job(
            resume=False,
            extra_args=[
                *topics.job_args,
                *("--out-of-orderness-ms", str(BOUND_MS), "--flush-after-ms", "5000"),
            ],
        )
        try:
            got = collect_features(config, tx.num_rows, topic=topics.features)
        finally:
            jobs.cancel(job.job_id)

    assert not got.duplicates()
    assert got.rows.keys() == want.keys()
    stream = {tid: r[0] for tid, r in got.rows.items()}
    names = history_names(feature_set)
    bad = mismatches(stream, want, names)
    assert not bad, bad[:10]

    same_instant = sum(1 for a, b in itertools.pairwise(rows) if a["event_ts"] == b["event_ts"])
    assert same_instant > 10, "the data should hold many same-instant transactions"

    reader = OnlineFeatureReader(client, feature_set)
    vectors = {
        t.transaction_id: reader.features_for(t) for t in map(Transaction.from_row, tx.to_pylist())
    }
    bad = mismatches(vectors, want, feature_set.names)
    assert not bad, bad[:10]
