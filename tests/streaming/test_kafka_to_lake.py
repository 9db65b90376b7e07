"""Kafka into Iceberg exactly once, against a real broker and a real lake: repeated drains,
a process killed between writing and committing, concurrent drains, other writers in
between, malformed messages, and a topic that does not fit the table's offsets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysFalse
from pyiceberg.transforms import DayTransform

from fraudlake import schemas
from fraudlake.lake.batches import publish_batch
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.tables import DECISIONS_TABLE, RAW_TABLES, ensure_table
from fraudlake.settings import Settings
from fraudlake.streaming import kafka_to_lake
from fraudlake.streaming.commit_retry import BeforeCommit
from fraudlake.streaming.dead_letters import dead_letter_path, read_dead_letters
from fraudlake.streaming.kafka_to_lake import (
    SINKS,
    OffsetsOutOfRangeError,
    SinkResult,
    TopicNotFoundError,
    drain_sink,
    drain_topic_to_table,
)
from fraudlake.streaming.offsets import committed_offsets, offsets_summary

from .conftest import (
    REPORTED,
    clean_env,
    create_topic,
    decision,
    encode,
    label,
    labels,
    produce,
)

LABELS = RAW_TABLES["labels"]
WORKER = Path(__file__).with_name("drain_until_killed.py")


def drain(
    settings: Settings,
    bootstrap: str,
    topic: str,
    *,
    max_messages: int = 100_000,
    before_commit: BeforeCommit | None = None,
) -> SinkResult:
    """One drain of ``topic`` into ``raw.labels``."""
    return drain_topic_to_table(
        settings,
        bootstrap,
        topic,
        LABELS,
        max_messages=max_messages,
        poll_timeout=60.0,
        before_commit=before_commit,
    )


def catalog_of(settings: Settings) -> Catalog:
    return open_catalog(settings)


def label_ids(settings: Settings) -> list[int]:
    data = catalog_of(settings).load_table(LABELS.identifier).scan().to_arrow()
    return sorted(data.column("transaction_id").to_pylist())


def assert_no_duplicates(settings: Settings, expected: int) -> None:
    data = catalog_of(settings).load_table(LABELS.identifier).scan().to_arrow()
    assert data.num_rows == expected
    assert pc.count_distinct(data.column("transaction_id")).as_py() == expected


def snapshot_count(settings: Settings) -> int:
    return len(catalog_of(settings).load_table(LABELS.identifier).snapshots())


def test_drains_are_exactly_once(settings: Settings, kafka_bootstrap: str, topic: str) -> None:
    n, m = 40, 11
    produce(kafka_bootstrap, topic, labels(range(n)))

    first = drain(settings, kafka_bootstrap, topic)
    assert (first.messages_read, first.rows_appended, first.dead_letters) == (n, n, 0)
    assert first.offsets_before == {} and first.offsets_after == {0: 20, 1: 20}
    assert first.caught_up and first.snapshot_id is not None
    assert label_ids(settings) == list(range(n))
    table = catalog_of(settings).load_table(LABELS.identifier)
    assert committed_offsets(table, topic) == {0: 20, 1: 20}
    current = table.current_snapshot()
    assert current is not None and current.snapshot_id == first.snapshot_id

    again = drain(settings, kafka_bootstrap, topic)
    assert (again.messages_read, again.rows_appended, again.snapshot_id) == (0, 0, None)
    assert again.offsets_after == {0: 20, 1: 20}
    assert snapshot_count(settings) == 1  # nothing new: no snapshot at all
    assert_no_duplicates(settings, n)

    produce(kafka_bootstrap, topic, labels(range(n, n + m)))
    more = drain(settings, kafka_bootstrap, topic)
    assert (more.messages_read, more.rows_appended) == (m, m)
    assert more.offsets_before == {0: 20, 1: 20} and more.offsets_after == {0: 26, 1: 25}
    assert label_ids(settings) == list(range(n + m))
    assert_no_duplicates(settings, n + m)
    assert snapshot_count(settings) == 2


def test_a_drain_killed_between_write_and_commit_loses_and_duplicates_nothing(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    produce(kafka_bootstrap, topic, labels(range(20)))
    assert drain(settings, kafka_bootstrap, topic).offsets_after == {0: 10, 1: 10}
    # the next 15 messages include one malformed: its dead letter is written pre-commit
    produce(kafka_bootstrap, topic, [*labels(range(20, 34)), b"not json"])
    before = catalog_of(settings).load_table(LABELS.identifier).current_snapshot()
    assert before is not None

    marker = settings.home.parent / "about-to-commit"
    log = (settings.home.parent / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(settings.home), kafka_bootstrap, topic, str(marker)],
        env=clean_env(settings.home),
        cwd=settings.home.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert worker.poll() is None, (settings.home.parent / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never reached its commit"
            time.sleep(0.1)
        # the drain has written its data files: they are on disk, but no snapshot has them
        table = catalog_of(settings).load_table(LABELS.identifier)
        on_disk = {str(p) for p in (settings.home / "warehouse").rglob("*.parquet")}
        referenced = {t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()}
        assert referenced < on_disk, "the worker wrote no data file before the kill"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()

    table = catalog_of(settings).load_table(LABELS.identifier)
    current = table.current_snapshot()
    assert current is not None and current.snapshot_id == before.snapshot_id  # no commit
    assert committed_offsets(table, topic) == {0: 10, 1: 10}  # offsets did not move
    letters = dead_letter_path(settings.resolved_home, topic)
    assert len(read_dead_letters(letters)) == 1

    recovered = drain(settings, kafka_bootstrap, topic)
    assert (recovered.messages_read, recovered.rows_appended) == (15, 14)
    assert recovered.offsets_after == {0: 18, 1: 17}
    assert label_ids(settings) == list(range(34))
    assert_no_duplicates(settings, 34)
    (letter,) = read_dead_letters(letters)  # written once although read twice
    assert letter["value"] == "not json" and letter["partition"] == 0 and letter["offset"] == 17


def test_malformed_messages_are_dead_lettered_and_the_stream_goes_on(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    values = labels(range(6))
    values[1] = b'{"transaction_id": 1}'  # partition 1, offset 0
    values[4] = None  # partition 0, offset 2: a tombstone
    produce(kafka_bootstrap, topic, values)
    result = drain(settings, kafka_bootstrap, topic)
    assert (result.rows_appended, result.dead_letters) == (4, 2)
    assert result.offsets_after == {0: 3, 1: 3}  # past the bad ones too
    assert result.dead_letter_file == str(dead_letter_path(settings.resolved_home, topic))
    letters = read_dead_letters(Path(result.dead_letter_file))
    assert sorted((r["partition"], r["offset"]) for r in letters) == [(0, 2), (1, 0)]
    by_offset = {(r["partition"], r["offset"]): r for r in letters}
    assert "is_fraud: Field required" in str(by_offset[(1, 0)]["error"])
    assert "null value" in str(by_offset[(0, 2)]["error"])
    assert label_ids(settings) == [0, 2, 3, 5]
    table = catalog_of(settings).load_table(LABELS.identifier)
    current = table.current_snapshot()
    assert current is not None and current.summary is not None
    assert current.summary["fraudlake.sink.dead-letters"] == "2"

    # a batch of nothing but bad messages still moves the offsets (an empty commit)
    produce(kafka_bootstrap, topic, [b"{}", b"[]"])
    only_bad = drain(settings, kafka_bootstrap, topic)
    assert (only_bad.rows_appended, only_bad.dead_letters) == (0, 2)
    assert only_bad.snapshot_id is not None and only_bad.offsets_after == {0: 4, 1: 4}
    assert drain(settings, kafka_bootstrap, topic).snapshot_id is None
    assert len(read_dead_letters(Path(result.dead_letter_file))) == 4


def test_max_messages_bounds_a_drain_and_the_next_continues(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    produce(kafka_bootstrap, topic, labels(range(23)))
    results: list[SinkResult] = []
    while not results or not results[-1].caught_up:
        results.append(drain(settings, kafka_bootstrap, topic, max_messages=7))
        assert len(results) <= 5
    assert [r.rows_appended for r in results] == [7, 7, 7, 2]
    assert results[-1].offsets_after == {0: 12, 1: 11}
    assert label_ids(settings) == list(range(23))
    assert_no_duplicates(settings, 23)


def test_a_concurrent_drain_that_wins_the_commit_is_not_duplicated(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    """Drain A has read everything; before it commits, drain B commits part of it, then
    drain C (in the retry) all of it. A's rebuilt appends keep only what the winners
    did not take, so every message lands once."""
    produce(kafka_bootstrap, topic, labels(range(30)))
    rivals: list[SinkResult] = []

    def rival_first(attempt: int) -> None:
        if attempt == 1:  # B: takes the first 8 messages
            rivals.append(drain(settings, kafka_bootstrap, topic, max_messages=8))

    a = drain(settings, kafka_bootstrap, topic, before_commit=rival_first)
    assert rivals[0].rows_appended == 8
    assert (a.commit_attempts, a.commit_conflicts) == (2, 1)
    assert a.messages_read == 30 and a.rows_appended == 22
    assert a.offsets_after == {0: 15, 1: 15}
    assert_no_duplicates(settings, 30)

    produce(kafka_bootstrap, topic, labels(range(30, 40)))

    def rival_takes_all(attempt: int) -> None:
        if attempt == 1:
            rivals.append(drain(settings, kafka_bootstrap, topic))

    late = drain(settings, kafka_bootstrap, topic, before_commit=rival_takes_all)
    assert rivals[1].rows_appended == 10
    assert late.snapshot_id is None and late.rows_appended == 0  # nothing left to add
    assert late.commit_conflicts == 1 and late.offsets_after == {0: 20, 1: 20}
    assert_no_duplicates(settings, 40)


def test_other_writers_between_drains_do_not_reset_the_offsets(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    produce(kafka_bootstrap, topic, labels(range(10)))
    drain(settings, kafka_bootstrap, topic)
    # the batch ingest publishes a labels batch: a snapshot without the sink's offsets
    table = catalog_of(settings).load_table(LABELS.identifier)
    batch = pa.Table.from_pylist([{**label(500), "reported_at": REPORTED}], schema=schemas.LABELS)
    published = publish_batch(
        table, batch, batch_id="labels/2024-03-01", content_hash="h", batch_rows=AlwaysFalse()
    )
    assert published.action == "appended"
    produce(kafka_bootstrap, topic, labels(range(10, 14)))
    result = drain(settings, kafka_bootstrap, topic)
    assert result.offsets_before == {0: 5, 1: 5} and result.rows_appended == 4
    assert label_ids(settings) == [*range(14), 500]


def test_decisions_land_in_the_audit_table(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    produce(kafka_bootstrap, topic, encode([decision(i) for i in range(5)]))
    result = drain_topic_to_table(settings, kafka_bootstrap, topic, DECISIONS_TABLE)
    assert result.rows_appended == 5 and result.table == "audit.decisions"
    table = catalog_of(settings).load_table("audit.decisions")
    (field,) = table.spec().fields
    assert isinstance(field.transform, DayTransform)
    assert table.schema().find_field(field.source_id).name == "decided_at"
    data = table.scan().to_arrow().sort_by("transaction_id")
    assert data.column("model_version").to_pylist() == ["4"] * 5
    assert json.loads(data.column("reasons")[0].as_py())[1] == "new_terminal"
    assert data.schema.field("score").nullable is True  # null: decided by the fallback rules
    assert committed_offsets(table, topic) == {0: 3, 1: 2}


def test_a_label_or_decision_sent_twice_lands_once(
    settings: Settings, kafka_bootstrap: str, topic: str
) -> None:
    produce(kafka_bootstrap, topic, labels(range(5)))
    assert drain(settings, kafka_bootstrap, topic).rows_appended == 5
    # Labels 3 and 4 again, 7 twice in one batch: each transaction keeps one label.
    produce(kafka_bootstrap, topic, encode([label(i) for i in (3, 4, 5, 6, 7, 7)]))
    result = drain(settings, kafka_bootstrap, topic)
    assert (result.rows_appended, result.duplicates_skipped) == (3, 3)
    assert label_ids(settings) == list(range(8))
    assert result.to_dict()["duplicates_skipped"] == 3
    # A batch of nothing but repeats: no row, but its offsets are recorded.
    produce(kafka_bootstrap, topic, labels(range(3)))
    result = drain(settings, kafka_bootstrap, topic)
    assert (result.rows_appended, result.duplicates_skipped) == (0, 3)
    assert drain(settings, kafka_bootstrap, topic).messages_read == 0
    assert label_ids(settings) == list(range(8))

    decisions = f"{topic}-decisions"
    create_topic(kafka_bootstrap, decisions)
    retried = decision(1, decided_at="2024-03-01T12:00:01+00:00")  # HAProxy re-sent it
    rescored = decision(1, model_version="5", score=0.2, decision="approve")
    produce(kafka_bootstrap, decisions, encode([decision(1), retried, rescored, decision(2)]))
    result = drain_topic_to_table(settings, kafka_bootstrap, decisions, DECISIONS_TABLE)
    assert (result.rows_appended, result.duplicates_skipped) == (3, 1)
    rows = catalog_of(settings).load_table("audit.decisions").scan().to_arrow().to_pylist()
    assert sorted((r["transaction_id"], r["model_version"]) for r in rows) == [
        (1, "4"),
        (1, "5"),
        (2, "4"),
    ]


def test_the_platform_sinks_and_their_defaults(
    settings: Settings, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert {name: (s.topic, s.table.identifier) for name, s in SINKS.items()} == {
        "decisions": ("decisions", "audit.decisions"),
        "labels": ("labels", "raw.labels"),
    }
    assert kafka_to_lake.kafka_bootstrap({}) == "127.0.0.1:9092"
    monkeypatch.setenv("FRAUDLAKE_KAFKA_BOOTSTRAP", kafka_bootstrap)
    assert kafka_to_lake.kafka_bootstrap() == kafka_bootstrap
    create_topic(kafka_bootstrap, "labels")  # the platform's topic, as the stack makes it
    produce(kafka_bootstrap, "labels", labels(range(3)))
    result = drain_sink("labels", settings)
    assert result.rows_appended == 3 and result.to_dict()["offsets_after"] == {"0": 2, "1": 1}
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()  # fit for an XCom
    with pytest.raises(ValueError, match="unknown sink 'nope'"):
        drain_sink("nope", settings)


def test_a_missing_topic_is_a_clear_error(settings: Settings, kafka_bootstrap: str) -> None:
    with pytest.raises(TopicNotFoundError, match="'no-such-topic' does not exist"):
        drain(settings, kafka_bootstrap, "no-such-topic")
    assert snapshot_count(settings) == 0


def test_offsets_beyond_the_end_of_the_topic_are_refused(
    settings: Settings, kafka_bootstrap: str
) -> None:
    """A topic recreated under a table that consumed further: reading nothing until the
    new topic reaches the old offsets would silently skip messages."""
    topic = create_topic(kafka_bootstrap)
    table = ensure_table(catalog_of(settings), LABELS)
    table.append(schemas.LABELS.empty_table(), snapshot_properties=offsets_summary(topic, {0: 50}))
    produce(kafka_bootstrap, topic, labels(range(4)))
    with pytest.raises(OffsetsOutOfRangeError, match=r"consumed up to offset 50 .* ends at 2"):
        drain(settings, kafka_bootstrap, topic)
    assert snapshot_count(settings) == 1
