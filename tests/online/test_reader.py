"""The online reader, over what the writer put in a real Redis, returns the batch row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest
import redis

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import FeatureSet
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
    members = {m.decode().split(":")[0] for m in online.zrange(key, 0, -1)}
    assert members == {"2", str(new.transaction_id)}
    assert 0 < online.ttl(key) <= keep // 1_000_000


def test_scores_are_read_as_ints_even_in_exponent_form() -> None:
    from fraudlake.online.reader import _after_colon, _times

    assert _times([b"0", b"1709251500000000", b"-5"]) == [0, 1709251500000000, -5]
    assert _times([b"1709251500000000", b"1.7092515e+17"]) == [1709251500000000, 170925150000000000]
    assert _after_colon([b"17:250", b"18:0"]) == [250, 0]


def test_a_client_that_decodes_responses_is_refused(feature_set: FeatureSet) -> None:
    with pytest.raises(ValueError, match="returning bytes"):
        OnlineFeatureReader(redis.Redis(decode_responses=True), feature_set)
