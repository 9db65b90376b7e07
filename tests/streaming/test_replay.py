"""`fraudlake replay` on a real broker: every event once, in event-time order per card,
card numbers pseudonymised, labels merged at their report time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from kafka import KafkaConsumer

from fraudlake.privacy import card_id
from fraudlake.schemas import RAW_TRANSACTIONS
from fraudlake.stream_features.events import Label, Transaction
from fraudlake.streaming.replay import (
    ReplayInputError,
    labels_of_day,
    merged_events,
    pick_day,
    publish,
    read_labels,
    read_raw_transactions,
    read_transactions,
)
from tests.features.data import random_dataset
from tests.streaming.conftest import create_topic

KEY = b"replay-test-key"


def _write_raw(root: Path) -> tuple[pa.Table, pa.Table]:
    """Raw day files like `fraudlake simulate` writes, from a random dense dataset."""
    tx, _, labels = random_dataset(4, n=600)
    raw_tx = tx.rename_columns(["card_number" if c == "card_id" else c for c in tx.column_names])
    raw_tx = raw_tx.cast(RAW_TRANSACTIONS)
    for folder, table, column in (
        ("transactions", raw_tx, "event_ts"),
        ("labels", labels, "reported_at"),
    ):
        (root / folder).mkdir(parents=True)
        days = pc.strftime(table.column(column), format="%Y-%m-%d")
        for day in pc.unique(days).to_pylist():
            pq.write_table(table.filter(pc.equal(days, day)), root / folder / f"{day}.parquet")
    return raw_tx, labels


def _consume(bootstrap: str, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10_000
    )
    try:
        messages = []
        for message in consumer:
            messages.append(message)
            if len(messages) >= expected:
                break
        return messages
    finally:
        consumer.close()


def test_replay_sends_every_event_in_time_order(tmp_path: Path, kafka_bootstrap: str) -> None:
    raw_tx, _ = _write_raw(tmp_path)
    start = raw_tx.column("event_ts")[0].as_py().date()
    days = (raw_tx.column("event_ts")[-1].as_py().date() - start).days + 1
    transactions = read_transactions(tmp_path, start, days, KEY)
    assert "card_number" not in transactions.column_names
    ts = transactions.column("event_ts")
    labels = read_labels(tmp_path, ts[0].as_py(), ts[-1].as_py())
    events = list(merged_events(transactions, labels))
    times = [e.event_us if isinstance(e, Transaction) else e.reported_us for e in events]
    assert times == sorted(times)

    tx_topic, label_topic = create_topic(kafka_bootstrap), create_topic(kafka_bootstrap)
    result = publish(
        iter(events), kafka_bootstrap, 0, transactions_topic=tx_topic, labels_topic=label_topic
    )
    assert (result.transactions, result.labels) == (raw_tx.num_rows, labels.num_rows)
    assert labels.num_rows > 0

    sent = _consume(kafka_bootstrap, tx_topic, raw_tx.num_rows)
    got = [Transaction.from_json(m.value) for m in sent]
    assert sorted(t.transaction_id for t in got) == sorted(
        raw_tx.column("transaction_id").to_pylist()
    )
    numbers = dict(
        zip(
            raw_tx.column("transaction_id").to_pylist(),
            raw_tx.column("card_number").to_pylist(),
            strict=True,
        )
    )
    for message, tx in zip(sent, got, strict=True):
        assert tx.card_id == card_id(numbers[tx.transaction_id], KEY)  # pseudonymised
        assert message.key == tx.card_id.encode()
    by_partition: dict[int, list[int]] = {}
    for message, tx in zip(sent, got, strict=True):
        by_partition.setdefault(message.partition, []).append(tx.event_us)
    assert all(p == sorted(p) for p in by_partition.values())  # each card's order kept
    label_ids = [
        Label.from_json(m.value).transaction_id
        for m in _consume(kafka_bootstrap, label_topic, labels.num_rows)
    ]
    assert sorted(label_ids) == sorted(labels.column("transaction_id").to_pylist())


def test_rate_paces_the_replay(tmp_path: Path, kafka_bootstrap: str) -> None:
    raw_tx, _ = _write_raw(tmp_path)
    day = raw_tx.column("event_ts")[0].as_py().date()
    transactions = read_transactions(tmp_path, day, 3, KEY).slice(0, 40)
    assert transactions.num_rows == 40
    topic = create_topic(kafka_bootstrap)
    result = publish(
        merged_events(transactions, pa.table({})),
        kafka_bootstrap,
        rate=100,
        transactions_topic=topic,
    )
    assert result.transactions == 40
    assert result.seconds >= 39 / 100  # 40 events at 100/s cannot take less than 0.39 s


def test_missing_days_are_named_with_what_is_there(tmp_path: Path) -> None:
    _write_raw(tmp_path)
    with pytest.raises(ReplayInputError, match=r"2031-01-01.*it holds 2024-03-01"):
        read_transactions(tmp_path, dt.date(2031, 1, 1), 2, KEY)


def test_days_are_picked_by_date_last_or_labelled(tmp_path: Path) -> None:
    _write_raw(tmp_path)
    days = sorted(dt.date.fromisoformat(p.stem) for p in (tmp_path / "transactions").iterdir())

    def unasked() -> int:
        raise AssertionError("the label delay is needed only for `labelled`")

    assert pick_day(tmp_path, None, unasked) == pick_day(tmp_path, "last", unasked) == days[-1]
    assert pick_day(tmp_path, days[2].isoformat(), unasked) == days[2]
    labelled = pick_day(tmp_path, "labelled", lambda: 3)
    assert labelled == days[-1] - dt.timedelta(days=3)
    with pytest.raises(ReplayInputError, match=r"'yesterday' is not a day: give YYYY-MM-DD"):
        pick_day(tmp_path, "yesterday", unasked)
    with pytest.raises(ReplayInputError, match=r"no raw transactions of 2031-01-01.*it holds"):
        pick_day(tmp_path, "2031-01-01", unasked)
    with pytest.raises(ReplayInputError, match=r"has all its labels.*up to 40 day"):
        pick_day(tmp_path, "labelled", lambda: 40)
    with pytest.raises(ReplayInputError, match="run `fraudlake simulate`"):
        pick_day(tmp_path / "empty", "last", unasked)


def test_a_days_labels_are_its_transactions_investigations_whenever_reported(
    tmp_path: Path,
) -> None:
    _, labels = _write_raw(tmp_path)
    day = pick_day(tmp_path, "labelled", lambda: 10)
    ids = set(read_raw_transactions(tmp_path, day, 1).column("transaction_id").to_pylist())
    got = labels_of_day(tmp_path, day)
    expected = {i for i in labels.column("transaction_id").to_pylist() if i in ids}
    assert expected, "the dataset should label some of that day's transactions"
    assert sorted(got.column("transaction_id").to_pylist()) == sorted(expected)
    reported = got.column("reported_at").to_pylist()
    assert reported == sorted(reported)
    # Some come back days later, in files named by their report day.
    assert max(reported).date() > day
