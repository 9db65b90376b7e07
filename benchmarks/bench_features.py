"""Feature engine (DuckDB) against a naive pandas rolling-window baseline, same data."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pyarrow as pa

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import FeatureSet, load_feature_set, window_delta
from fraudlake.params import SimulateParams
from fraudlake.privacy import pseudonymise_transactions
from fraudlake.simulation import simulate


def naive_pandas_features(tx: pd.DataFrame, features: FeatureSet) -> pd.DataFrame:
    """The textbook pandas approach: per entity, time-based rolling windows.

    ``closed="left"`` gives [t - W, t) but, unlike our engine, still counts other rows at
    the same instant; fine for a speed baseline, which is all this is.
    """
    tx = tx.sort_values("event_ts")
    out = pd.DataFrame(index=tx.index)
    for d in features.windows:
        for w in d.windows:
            rolled = (
                tx.set_index("event_ts")
                .groupby(list(d.keys))["amount"]
                .rolling(pd.Timedelta(window_delta(w)), closed="left")
            )
            count = rolled.count().fillna(0).to_numpy()
            total = rolled.sum().fillna(0).to_numpy()
            out[d.feature_name("count", w)] = count
            out[d.feature_name("sum", w)] = total
            out[d.feature_name("mean", w)] = np.where(count > 0, total / np.maximum(count, 1), 0)
    return out


def run(days: int = 90, baseline_days: int = 14) -> dict[str, float]:
    features = load_feature_set("feature_defs")
    params = SimulateParams(profile="handbook", days=days)
    sim = simulate(params)
    tx = pseudonymise_transactions(sim.transactions, b"bench")
    started = time.perf_counter()
    compute_features(tx, sim.customers, sim.labels, features)
    ours = tx.num_rows / (time.perf_counter() - started)

    cutoff = pa.scalar(
        dt.datetime.combine(params.start_date, dt.time(), dt.UTC)
        + dt.timedelta(days=baseline_days),
        tx.schema.field("event_ts").type,
    )
    subset = tx.filter(pa.compute.less(tx.column("event_ts"), cutoff)).to_pandas()
    started = time.perf_counter()
    naive_pandas_features(subset, features)
    baseline = len(subset) / (time.perf_counter() - started)
    return {
        "rows": tx.num_rows,
        "ours_rows_s": ours,
        "baseline_rows": len(subset),
        "baseline_rows_s": baseline,
    }
