"""The stream stages, run in one process, equal the batch engine — in order, out of order
within the watermark bound, at equal timestamps — and follow the stated late policy."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import FeatureSet
from fraudlake.stream_features.entity_stage import Element
from fraudlake.stream_features.events import Label, Transaction
from fraudlake.stream_features.local_engine import LocalFeatureEngine
from fraudlake.stream_features.plan import history_names
from tests.features.data import random_dataset

MINUTE_US = 60 * 1_000_000
Feed = list[Transaction | Label]


def _batch(tx: pa.Table, customers: pa.Table, labels: pa.Table, fs: FeatureSet) -> dict[int, dict]:
    rows = compute_features(tx, customers, labels, fs).to_pylist()
    return {r["transaction_id"]: r for r in rows}


def _feed(tx: pa.Table, labels: pa.Table) -> Feed:
    """Transactions at their event time and labels at their report time, in time order."""
    events: Feed = [Transaction.from_row(r) for r in tx.to_pylist()]
    events += [Label.from_row(r) for r in labels.to_pylist()]
    return sorted(events, key=_time)


def _time(event: Transaction | Label) -> int:
    return event.event_us if isinstance(event, Transaction) else event.reported_us


def _run(engine: LocalFeatureEngine, feed: Feed) -> dict[int, Element]:
    done: list[Element] = []
    for event in feed:
        if isinstance(event, Transaction):
            done += engine.add_transaction(event)
        else:
            done += engine.add_label(event)
    done += engine.flush()
    ids = [e.transaction.transaction_id for e in done if e.transaction]
    assert len(ids) == len(set(ids)), "a transaction completed twice"
    return {e.transaction.transaction_id: e for e in done if e.transaction}


def _mismatches(
    stream: dict[int, Element], batch: dict[int, dict], names: list[str]
) -> list[tuple[int, str, float, float]]:
    return [
        (tid, n, stream[tid].features[n], batch[tid][n])
        for tid in batch
        for n in names
        if not np.isclose(stream[tid].features[n], batch[tid][n], rtol=0, atol=1e-9)
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_in_order_stream_equals_batch(seed: int, feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(seed)
    batch = _batch(tx, customers, labels, feature_set)
    stream = _run(LocalFeatureEngine(feature_set), _feed(tx, labels))
    assert stream.keys() == batch.keys()
    assert not _mismatches(stream, batch, history_names(feature_set))
    assert not any(e.late for e in stream.values())


def test_disorder_within_the_bound_changes_nothing(feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(2)
    batch = _batch(tx, customers, labels, feature_set)
    bound = 30 * MINUTE_US
    rng = np.random.default_rng(7)
    # Each event arrives up to `bound` after its time: shuffled, but never by more.
    feed = sorted(_feed(tx, labels), key=lambda e: _time(e) + int(rng.integers(0, bound)))
    assert feed != _feed(tx, labels)
    engine = LocalFeatureEngine(feature_set, out_of_orderness_us=bound)
    stream = _run(engine, feed)
    assert stream.keys() == batch.keys()
    assert not _mismatches(stream, batch, history_names(feature_set))
    assert engine.late_elements == 0


def test_same_instant_transactions_never_see_each_other(feature_set: FeatureSet) -> None:
    tx, _, labels = random_dataset(0)
    stream = _run(LocalFeatureEngine(feature_set), _feed(tx, labels))
    rows = tx.to_pylist()
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(rows)
        if a["event_ts"] == b["event_ts"] and a["card_id"] == b["card_id"]
    ]
    assert pairs, "the dataset should have same-instant transactions of one card"
    for a, b in pairs:
        fa = stream[a["transaction_id"]].features
        fb = stream[b["transaction_id"]].features
        assert fa["card_count_10m"] == fb["card_count_10m"]
        assert fa["card_sum_1h"] == fb["card_sum_1h"]


def test_a_late_transaction_gets_its_own_exact_row_marked_late(feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(1)
    batch = _batch(tx, customers, labels, feature_set)
    feed = _feed(tx, labels)
    txs = [i for i, e in enumerate(feed) if isinstance(e, Transaction)]
    victim_at = txs[len(txs) // 2]
    victim = feed[victim_at]
    assert isinstance(victim, Transaction)
    # Deliver it a day after its time: far beyond the (zero) out-of-orderness bound.
    feed.pop(victim_at)
    later = next(i for i, e in enumerate(feed) if _time(e) > victim.event_us + 1440 * MINUTE_US)
    feed.insert(later, victim)

    engine = LocalFeatureEngine(feature_set)
    stream = _run(engine, feed)
    names = history_names(feature_set)
    assert stream[victim.transaction_id].late
    assert engine.late_elements >= 1
    own = {n: stream[victim.transaction_id].features[n] for n in names}
    assert own == pytest.approx({n: batch[victim.transaction_id][n] for n in names}, abs=1e-9)
    # Rows emitted before it arrived did not count it; everything after counts it again.
    wrong = {tid for tid, *_ in _mismatches(stream, batch, names)}
    assert wrong, "the late transaction should be missing from some earlier-emitted rows"
    assert all(
        victim.event_us
        < stream[tid].transaction.event_us  # type: ignore[union-attr]
        <= victim.event_us + 1440 * MINUTE_US + 30 * 86_400 * 1_000_000
        for tid in wrong
    )
    assert all(not stream[tid].late for tid in wrong)


def test_labels_count_only_once_and_only_frauds(feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(0)
    rows = labels.to_pylist()
    repeated = [{**r, "reported_at": r["reported_at"]} for r in rows[:20]]  # reported twice
    cleared = [{**r, "is_fraud": False} for r in rows[20:40]]  # false alarms, never frauds
    more = pa.Table.from_pylist(rows + repeated + cleared, schema=labels.schema)
    batch = _batch(tx, customers, labels, feature_set)
    stream = _run(LocalFeatureEngine(feature_set), _feed(tx, more))
    assert not _mismatches(stream, batch, history_names(feature_set))
