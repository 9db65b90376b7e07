"""Streaming features: the Flink job against a plain single-process Python consumer.

Both read the same simulated events from Kafka, run the same stages, write the same Redis
members and publish the same rows to their own ``features`` topic (the rows are compared:
every value equal). A Kafka broker, Redis and a Flink cluster are started for the run on
their own ports (+500) and state folder, and stopped at the end.

* **sustained events/s** — the input topics are filled first, then the engine starts; the
  rate is taken over the middle 90 % of the rows, by their broker append times
  (``LogAppendTime``) on ``features``, so start-up and the final flush do not count;
* **end-to-end lag** — with the engine running, transactions are produced at a fixed
  rate; for each one, the time from ``send`` until its member is visible in Redis (what
  the online reader computes the vector from); p50 and p99 over all of them;
* **SQL vs Python in Flink** — one window feature (per card, last hour) as a Flink SQL
  ``OVER`` and as a keyed Python function, rows/s each (``flink_jobs/bench_over_window.py``).

    .venv/bin/python -m benchmarks stream
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from fraudlake.features.definitions import load_feature_set
from fraudlake.online.layout import DEFAULT_PREFIX, transaction_member, transactions_key
from fraudlake.params import SimulateParams
from fraudlake.privacy import pseudonymise_transactions
from fraudlake.simulation import simulate
from fraudlake.stack.config import StackConfig
from fraudlake.stack.flink_jobs import FlinkJobs
from fraudlake.stack.scratch import scratch_stack
from fraudlake.stream_features.events import Label, Transaction
from fraudlake.stream_features.plan import build_stages, history_names
from fraudlake.streaming.replay import merged_events, publish

REPO = Path(__file__).resolve().parents[1]
SERVICES = ["kafka", "redis", "flink"]
PARTITIONS = 2
#: Both engines, the same: the default watermark bound and idleness, a quick final flush.
ENGINE_ARGS = {"out-of-orderness-ms": "5000", "idle-timeout-ms": "10000", "flush-after-ms": "2000"}


@dataclass(frozen=True)
class Topics:
    transactions: str
    labels: str
    features: str

    def args(self) -> list[str]:
        return [
            *("--transactions-topic", self.transactions),
            *("--labels-topic", self.labels),
            *("--features-topic", self.features),
            *(a for k, v in ENGINE_ARGS.items() for a in (f"--{k}", v)),
        ]


def new_topics(bootstrap: str) -> Topics:
    run = uuid.uuid4().hex[:8]
    names = [f"bench-{base}-{run}" for base in ("tx", "labels", "features")]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names], timeout_ms=30_000)
    finally:
        admin.close()
    time.sleep(1)  # leaders elected
    return Topics(*names)


class FlinkEngine:
    name = "Flink job"

    def __init__(self, config: StackConfig) -> None:
        self.jobs = FlinkJobs(config)
        self.job_id: str | None = None

    def start(self, topics: Topics) -> None:
        extra = [*topics.args(), "--group-id", f"bench-{topics.features}"]
        job, _ = self.jobs.submit_features_job(resume=False, extra_args=extra)
        self.job_id = job.job_id

    def stop(self) -> None:
        if self.job_id:
            self.jobs.cancel(self.job_id)
            self.job_id = None


class ConsumerEngine:
    name = "Python consumer"

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, topics: Topics) -> None:
        command = [
            str(Path(sys.executable).parent / "fraudlake"),
            *("stream", "features", "--bootstrap", self.config.kafka_bootstrap),
            *("--redis-url", self.config.redis_url, *topics.args()),
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
            self.process = None


Engine = FlinkEngine | ConsumerEngine


def events_of(days: int) -> list[Transaction | Label]:
    """``days`` simulated days (after a week of history, so labels exist), in order."""
    sim = simulate(SimulateParams(profile="handbook", days=days + 7))
    tx = pseudonymise_transactions(sim.transactions, b"bench")
    start = pc.add(pc.min(tx.column("event_ts")), pa.scalar(7 * 86_400_000_000, pa.duration("us")))
    tx = tx.filter(pc.greater_equal(tx.column("event_ts"), start))
    tx = tx.sort_by([("event_ts", "ascending"), ("transaction_id", "ascending")])
    labels = sim.labels.filter(pc.greater_equal(sim.labels.column("reported_at"), start))
    return list(merged_events(tx, labels.sort_by("reported_at")))


def read_rows(bootstrap: str, topic: str, expected: int, timeout: float) -> list[tuple[int, dict]]:
    """(append time ms, row) of ``topic`` once ``expected`` distinct rows are committed."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    seen: dict[int, tuple[int, dict]] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(seen)} of {expected} rows on {topic} after {timeout}s")
            for message in consumer:
                row = json.loads(message.value)
                seen.setdefault(row["transaction_id"], (message.timestamp, row))
    finally:
        consumer.close()
    return list(seen.values())


def sustained_rate(append_ms: list[int]) -> float:
    """Rows per second over the middle 90 % of the rows."""
    times = np.sort(np.asarray(append_ms, dtype=np.float64))
    lo, hi = int(len(times) * 0.05), int(len(times) * 0.95)
    return (hi - lo) / max((times[hi] - times[lo]) / 1000, 1e-3)


def throughput(
    engine: Engine, config: StackConfig, events: list[Transaction | Label]
) -> tuple[float, dict[int, dict]]:
    """Events/s through ``engine`` from a full backlog; its rows by transaction id."""
    topics = new_topics(config.kafka_bootstrap)
    publish(
        iter(events),
        config.kafka_bootstrap,
        transactions_topic=topics.transactions,
        labels_topic=topics.labels,
    )
    n_tx = sum(isinstance(e, Transaction) for e in events)
    engine.start(topics)
    try:
        rows = read_rows(config.kafka_bootstrap, topics.features, n_tx, timeout=900)
    finally:
        engine.stop()
    # Labels are events too: scale the row rate to events.
    rate = sustained_rate([t for t, _ in rows]) * len(events) / n_tx
    return rate, {r["transaction_id"]: r for _, r in rows}


class RedisWatch:
    """A thread that finds when each sent transaction becomes visible in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        card = next(s for s in build_stages(load_feature_set(REPO / "feature_defs")))
        self.keys = card.keys
        self.entity = card.entity
        self.client = client
        self.pending: dict[int, tuple[str, str, float]] = {}
        self.lags: list[float] = []
        self.lock = threading.Lock()
        self.sending = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sent(self, event: Transaction | Label) -> None:
        if isinstance(event, Transaction):
            key = transactions_key(DEFAULT_PREFIX, self.entity, event.key(self.keys))
            member = transaction_member(event.event_us, event.transaction_id, event.cents)
            with self.lock:
                self.pending[event.transaction_id] = (key, member, time.perf_counter())

    def _run(self) -> None:
        deadline: float | None = None
        while True:
            with self.lock:
                waiting = list(self.pending.items())
            if not self.sending:
                deadline = deadline or time.monotonic() + 60
                if not waiting or time.monotonic() > deadline:
                    return
            if waiting:
                pipe = self.client.pipeline(transaction=False)
                for _, (key, member, _) in waiting:
                    pipe.zscore(key, member)
                found = pipe.execute()
                now = time.perf_counter()
                with self.lock:
                    for (tid, (_, _, sent)), score in zip(waiting, found, strict=True):
                        if score is not None:
                            self.lags.append(now - sent)
                            del self.pending[tid]
            time.sleep(0.001)

    def finish(self) -> list[float]:
        self.sending = False
        self.thread.join()
        if self.pending:
            raise TimeoutError(f"{len(self.pending)} transactions never reached Redis")
        return self.lags


def lag(
    engine: Engine, config: StackConfig, events: list[Transaction | Label], rate: float
) -> tuple[float, float]:
    """p50, p99 seconds from send to visible in Redis, sending at ``rate`` events/s."""
    topics = new_topics(config.kafka_bootstrap)
    client = redis.Redis.from_url(config.redis_url)
    client.flushall()
    engine.start(topics)
    try:
        # Warm up until the engine answers, then measure.
        warm = RedisWatch(client)
        publish(
            iter(events[:50]),
            config.kafka_bootstrap,
            on_sent=warm.sent,
            transactions_topic=topics.transactions,
            labels_topic=topics.labels,
        )
        warm.finish()
        watch = RedisWatch(client)
        publish(
            iter(events[50:]),
            config.kafka_bootstrap,
            rate,
            on_sent=watch.sent,
            transactions_topic=topics.transactions,
            labels_topic=topics.labels,
        )
        lags = np.asarray(watch.finish())
    finally:
        engine.stop()
        client.close()
    return float(np.percentile(lags, 50)), float(np.percentile(lags, 99))


def over_window(config: StackConfig, events: list[Transaction | Label]) -> dict[str, float]:
    """Rows/s of one window feature (count and sum per card over the last hour) in Flink
    SQL ``OVER`` and in a keyed Python function, same cluster, same transactions
    (``flink_jobs/bench_over_window.py``)."""
    transactions = [e for e in events if isinstance(e, Transaction)]
    source = new_topics(config.kafka_bootstrap).transactions
    publish(iter(transactions), config.kafka_bootstrap, transactions_topic=source)
    rates: dict[str, float] = {}
    with FlinkJobs(config) as jobs:
        for mode in ("sql", "python"):
            output = new_topics(config.kafka_bootstrap).features
            args = ["--mode", mode, "--transactions-topic", source, "--output-topic", output]
            jobs.submit_python_job(
                "bench_over_window.py", f"fraudlake-bench-over-{mode}", args, wait=False
            )
            rows = read_rows(config.kafka_bootstrap, output, len(transactions), timeout=600)
            rates[f"over_{mode}_rows_s"] = sustained_rate([t for t, _ in rows])
    return rates


def differing_values(a: dict[int, dict], b: dict[int, dict], names: list[str]) -> int:
    """How many (transaction, feature) values differ by more than 1e-9."""
    assert a.keys() == b.keys(), "the engines published rows for different transactions"
    return sum(
        1 for tid in a for n in names if not np.isclose(a[tid][n], b[tid][n], rtol=0, atol=1e-9)
    )


@contextmanager
def bench_stack() -> Iterator[StackConfig]:
    root = Path(tempfile.mkdtemp(prefix="fraudlake-bench-"))
    try:
        with scratch_stack(root, 500, SERVICES) as stack:
            yield stack.config
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(days: int = 4, lag_rate: float = 200.0, lag_events: int = 4000) -> dict[str, float]:
    events = events_of(days)
    names = history_names(load_feature_set(REPO / "feature_defs"))
    results: dict[str, float] = {"events": len(events), "lag_rate": lag_rate}
    rows: dict[str, dict[int, dict]] = {}
    with bench_stack() as config:
        for key, engine in (("flink", FlinkEngine(config)), ("python", ConsumerEngine(config))):
            results[f"{key}_events_s"], rows[key] = throughput(engine, config, events)
            p50, p99 = lag(engine, config, events[:lag_events], lag_rate)
            results[f"{key}_lag_p50_ms"], results[f"{key}_lag_p99_ms"] = p50 * 1000, p99 * 1000
        results |= over_window(config, events)
    results["differing_values"] = differing_values(rows["flink"], rows["python"], names)
    results["rows"] = len(rows["flink"])
    return results


if __name__ == "__main__":
    print(run())
