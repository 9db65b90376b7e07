"""No feature uses the current transaction, a later one, or a label reported later."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import FeatureSet
from tests.features.data import random_dataset


def _by_id(table: pa.Table, names: list[str]) -> dict[int, tuple[float, ...]]:
    return {r["transaction_id"]: tuple(r[n] for n in names) for r in table.to_pylist()}


def test_changing_the_future_does_not_move_earlier_features(feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(seed=5)
    cutoff = tx.column("event_ts")[tx.num_rows // 2].as_py()
    before = _by_id(compute_features(tx, customers, labels, feature_set), feature_set.names)

    # Rewrite the future: amounts, cards and terminals of every transaction at or after
    # the cutoff change, and every label reported at or after it is dropped or moved.
    rng = np.random.default_rng(9)
    future = pc.greater_equal(
        tx.column("event_ts"), pa.scalar(cutoff, tx.schema.field("event_ts").type)
    )
    mask = future.to_numpy(zero_copy_only=False)
    amounts = tx.column("amount").to_numpy().copy()
    amounts[mask] = np.round(rng.uniform(500, 900, mask.sum()), 2)
    terminals = tx.column("terminal_id").to_numpy().copy()
    terminals[mask] = rng.integers(0, 8, mask.sum())
    changed = tx.set_column(tx.schema.get_field_index("amount"), "amount", pa.array(amounts))
    changed = changed.set_column(
        changed.schema.get_field_index("terminal_id"), "terminal_id", pa.array(terminals)
    )
    kept = [lab for lab in labels.to_pylist() if lab["reported_at"] < cutoff]
    moved = [
        {**lab, "reported_at": cutoff + dt.timedelta(minutes=1)}
        for lab in labels.to_pylist()
        if lab["reported_at"] >= cutoff
    ]
    new_labels = pa.Table.from_pylist(kept + moved, schema=labels.schema)
    after = _by_id(compute_features(changed, customers, new_labels, feature_set), feature_set.names)

    earlier = [
        tid
        for tid, flag in zip(tx.column("transaction_id").to_pylist(), mask, strict=True)
        if not flag
    ]
    assert earlier
    moved_rows = [tid for tid in earlier if before[tid] != after[tid]]
    assert not moved_rows, f"{len(moved_rows)} earlier transactions changed features"


def test_own_amount_is_not_in_own_window(feature_set: FeatureSet) -> None:
    tx, customers, labels = random_dataset(seed=6)
    window_names = [n for d in feature_set.windows + feature_set.label_windows for n in d.names]
    before = _by_id(compute_features(tx, customers, labels, feature_set), window_names)
    target = tx.num_rows - 1  # the last transaction: nothing later sees it
    amounts = tx.column("amount").to_numpy().copy()
    amounts[target] += 1000.0
    changed = tx.set_column(tx.schema.get_field_index("amount"), "amount", pa.array(amounts))
    after = _by_id(compute_features(changed, customers, labels, feature_set), window_names)
    assert before == after
