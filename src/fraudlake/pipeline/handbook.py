"""``fraudlake handbook``: our models on the Fraud Detection Handbook's own protocol.

Le Borgne et al.'s simulation (the ``handbook`` profile: 5,000 customers, 10,000
terminals, 183 days from 2018-04-01), trained on 2018-07-25..31 and tested on
2018-08-08..14 after a 7-day gap, with cards known compromised before the test removed.
It runs in memory (no lake) so the comparison takes minutes, and logs to its own MLflow
experiment. The published baselines are the handbook's tables (its best: tuned XGBoost).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fraudlake.features.batch import ID_COLUMNS, compute_features
from fraudlake.features.definitions import load_feature_set
from fraudlake.params import DecisionParams, SimulateParams, TrainParams
from fraudlake.pipeline.training_set import feature_columns_of, label_frame
from fraudlake.privacy import pseudonymise_transactions
from fraudlake.settings import Settings
from fraudlake.simulation import simulate
from fraudlake.training.train import train_candidates

log = logging.getLogger(__name__)

#: The handbook's best published baseline (tuned XGBoost, chapter "Model selection").
HANDBOOK_BEST = {"roc_auc": 0.869, "average_precision": 0.687, "card_precision_at_100": 0.303}
#: The handbook's split; models and imbalance policy come from ``params.yaml``.
HANDBOOK_SPLIT: dict[str, object] = {
    "train_start": dt.date(2018, 7, 25),
    "train_days": 7,
    "gap_days": 7,
    "test_start": dt.date(2018, 8, 8),
    "test_days": 7,
}
EXPERIMENT = "handbook-protocol"


def run_handbook(
    settings: Settings,
    out_dir: Path,
    console: Console,
    *,
    train: TrainParams,
    defs_dir: Path = Path("feature_defs"),
) -> dict[str, dict[str, float]]:
    """Simulate, featurise, train and compare; writes ``out_dir/comparison.json``."""
    started = time.perf_counter()
    sim = simulate(SimulateParams(profile="handbook"))
    log.info("handbook simulation: %d transactions", sim.transactions.num_rows)
    transactions = pseudonymise_transactions(sim.transactions, settings.hmac_key_bytes())
    feature_set = load_feature_set(defs_dir)
    features = compute_features(transactions, sim.customers, sim.labels, feature_set)
    columns = feature_columns_of(features, ID_COLUMNS)
    frame = label_frame(features, sim.labels, sim.customers, columns)
    split = train.model_copy(update=HANDBOOK_SPLIT)

    results = train_candidates(
        frame,
        columns,
        split,
        DecisionParams(),
        tracking_uri=settings.resolved_mlflow_uri,
        experiment=EXPERIMENT,
        lineage={"profile": "handbook", "transactions": str(sim.transactions.num_rows)},
        out_dir=out_dir,
    )
    comparison = {"handbook tuned XGBoost (published)": dict(HANDBOOK_BEST)}
    for r in results:
        comparison[f"fraudlake {r.family}"] = {k: r.metrics[k] for k in HANDBOOK_BEST}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")

    table = Table(
        title=f"handbook protocol: train {split.train_start} +7d, "
        f"test {split.test_start} +7d ({frame.shape[0]:,} transactions)"
    )
    table.add_column("model")
    for metric in HANDBOOK_BEST:
        table.add_column(metric, justify="right")
    for name, metrics in comparison.items():
        table.add_row(name, *(f"{metrics[m]:.3f}" for m in HANDBOOK_BEST))
    console.print(table)
    console.print(
        f"comparison → {out_dir / 'comparison.json'}; MLflow experiment {EXPERIMENT!r} in "
        f"{settings.resolved_mlflow_uri} ({time.perf_counter() - started:.0f}s)"
    )
    return comparison
