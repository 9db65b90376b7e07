"""The online reader, over what the writer put in a real Redis, returns the batch row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest
import redis

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import FeatureSet
from fraudlake.online.layout import member_transaction_id
from fraudlake.online.profiles import write_profiles
from fraudlake.online.reader import OnlineFeatureReader, UnknownCustomerError
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.stream_features.events import KnownFraud, Label, Transaction
from fraudlake.stream_features.label_join import LabelJoinState, join_label, join_transaction
from fraudlake.stream_features.plan import build_stages
from tests.features.data import random_dataset


def _known_frauds(txs: list[Transaction], labels: pa.Table) -> list[KnownFraud]:
    joins = {tx.transaction_id: LabelJoinState() for tx in txs}
    for tx in txs:
        join_transaction(joins[tx.transaction_id], tx)
    found = [
        join_label(joins[row["transaction_id"]], Label.from_row(row)) for row in labels.to_pylist()
    ]
    return [f for f in found if f is not None]


def test_reader_vector_equals_the_batch_row(online: redis.Redis, feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(3, n=800)
    batch = {
        r["transaction_id"]: r
        for r in compute_features(tx, customers, labels, feature_set).to_pylist()
    }
    txs = [Transaction.from_row(r) for r in tx.to_pylist()]
    writer = OnlineStoreWriter(online, build_stages(feature_set))
    # Written in a shuffled order, in small batches, and some twice: order and repeats
    # must not matter.
    order = np.random.default_rng(5).permutation(len(txs))
    shuffled = [txs[i] for i in order]
    for start in range(0, len(shuffled), 37):
        writer.write(shuffled[start : start + 37])
    writer.write(shuffled[:100], _known_frauds(txs, labels))
    write_profiles(online, customers.to_pylist())

    reader = OnlineFeatureReader(online, feature_set)
    for t in txs:
        got = reader.features_for(t)
        want = {n: batch[t.transaction_id][n] for n in feature_set.names}
        assert list(got) == feature_set.names
        assert got == pytest.approx(want, abs=1e-9, rel=0), t.transaction_id
    assert reader.vector(txs[0]) == list(reader.features_for(txs[0]).values())

    # A batch is counted at once (one array for all its members): the same values, bit
    # for bit, as one transaction at a time, in any order; a customer without a profile
    # in the middle of a batch gets its error and leaves the others alone.
    one_by_one = {t.transaction_id: reader.features_for(t) for t in txs}
    stranger = dataclasses.replace(txs[0], transaction_id=-1, customer_id=10**9)
    batch_txs = [txs[i] for i in order[:300]] + [stranger] + [txs[i] for i in order[300:]]
    many = reader.features_for_many(batch_txs)
    assert isinstance(many[300], UnknownCustomerError)
    del many[300], batch_txs[300]
    assert many == [one_by_one[t.transaction_id] for t in batch_txs]


@pytest.mark.parametrize("copies", [1, 4], ids=["few (plain Python)", "many (numpy)"])
def test_window_edges_are_exact_for_every_transaction_of_a_batch(
    online: redis.Redis, feature_set: FeatureSet, copies: int
) -> None:
    tx, customers, _ = random_dataset(2, n=5)
    base = Transaction.from_row(tx.to_pylist()[0])
    t, minute = base.event_us, 60 * 1_000_000

    def at(i: int, when: int) -> Transaction:
        return dataclasses.replace(base, transaction_id=1000 + i, event_us=when)

    # The card's history: on the 10-minute edge, 1 µs before it, 1 µs before t, at t.
    history = [at(0, t - 10 * minute), at(1, t - 10 * minute - 1), at(2, t - 1), at(3, t)]
    OnlineStoreWriter(online, build_stages(feature_set)).write(history)
    write_profiles(online, customers.to_pylist())
    probes = [at(10, t), at(11, t + 5 * minute), at(12, t - 10 * minute)] * copies
    got = OnlineFeatureReader(online, feature_set).features_for_many(probes)
    counts = [(g["card_count_10m"], g["card_count_1h"]) for g in got]  # type: ignore[index]
    assert counts == [(2.0, 3.0), (2.0, 4.0), (1.0, 1.0)] * copies
    cents = {h.event_us: h.cents for h in history}
    assert got[0]["card_sum_10m"] == (cents[t - 10 * minute] + cents[t - 1]) / 100  # type: ignore[index]


def test_a_missing_profile_is_named(online: redis.Redis, feature_set: FeatureSet) -> None:
    tx, _, _ = random_dataset(0, n=5)
    first = Transaction.from_row(tx.to_pylist()[0])
    with pytest.raises(UnknownCustomerError, match=f"customer {first.customer_id}"):
        OnlineFeatureReader(online, feature_set).features_for(first)


def test_old_events_are_trimmed_and_keys_expire(
    online: redis.Redis, feature_set: FeatureSet
) -> None:
    tx, _, _ = random_dataset(1, n=3)
    new = Transaction.from_row(tx.to_pylist()[0])
    stages = build_stages(feature_set)
    card = next(s for s in stages if s.entity == "card")
    keep = card.span_us + card.grace_us
    too_old = dataclasses.replace(new, transaction_id=1, event_us=new.event_us - keep - 1)
    just_kept = dataclasses.replace(new, transaction_id=2, event_us=new.event_us - keep)
    writer = OnlineStoreWriter(online, stages)
    writer.write([too_old, just_kept])
    writer.write([new])
    key = f"fl:card:{new.card_id}:tx"
    stored = online.zrange(key, 0, -1, withscores=True)
    assert {member_transaction_id(m) for m, _ in stored} == {2, new.transaction_id}
    # The member carries the event time the score holds (reads take it from the member).
    assert all(int(m.split(b":")[0]) == score for m, score in stored)
    assert 0 < online.ttl(key) <= keep // 1_000_000


@pytest.mark.parametrize("batch", [1, 8], ids=["one by one", "whole batch"])
def test_a_store_in_the_old_member_layout_is_named_not_misread(
    online: redis.Redis, feature_set: FeatureSet, batch: int
) -> None:
    tx, customers, _ = random_dataset(1, n=3)
    new = Transaction.from_row(tx.to_pylist()[0])
    write_profiles(online, customers.to_pylist())
    # Before the event time moved into the members: <transaction_id>:<cents>.
    online.zadd(f"fl:card:{new.card_id}:tx", {"17:250": new.event_us - 1})
    with pytest.raises(ValueError, match=r"found b'17:250'.*online migrate-layout"):
        OnlineFeatureReader(online, feature_set).feature_rows([new] * batch)


def test_a_client_that_decodes_responses_is_refused(feature_set: FeatureSet) -> None:
    with pytest.raises(ValueError, match="returning bytes"):
        OnlineFeatureReader(redis.Redis(decode_responses=True), feature_set)
