"""``fraudlake handbook``: our models on the Fraud Detection Handbook's own protocol.

Le Borgne et al.'s simulation (the ``handbook`` profile: 5,000 customers, 10,000
terminals, 183 days from 2018-04-01) and the protocol behind the handbook's published
"test performance" (chapter "Model selection"): **prequential validation over 4 folds**.
Each fold trains on 7 days, skips a 7-day delay period and tests on the next 7 days with
cards known to be compromised removed; the folds' training weeks start on 2018-08-15,
08-08, 08-01 and 07-25 (the handbook's ``start_date_training_for_test`` shifted back one
week per fold). The published numbers (tuned XGBoost: AUC 0.869, AP 0.687, CP@100 0.303)
are the means over these folds, and so are ours; the per-fold values are reported too,
the 07-25 fold being the chapter-3 baseline split.

It runs in memory (no lake) so the comparison takes a couple of minutes, and logs one
MLflow run per fold and family to its own experiment.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import statistics
import time
from collections.abc import Mapping, Sequence
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
from fraudlake.training.split import DateWindow
from fraudlake.training.train import train_candidates

log = logging.getLogger(__name__)

#: The handbook's best published baseline (tuned XGBoost, chapter "Model selection",
#: mean test performance over the prequential folds).
HANDBOOK_BEST = {"roc_auc": 0.869, "average_precision": 0.687, "card_precision_at_100": 0.303}
#: Training start of the latest fold; earlier folds start one ``FOLD_STEP_DAYS`` earlier each.
LATEST_TRAIN_START = dt.date(2018, 8, 15)
N_FOLDS = 4
FOLD_STEP_DAYS = 7
#: Days of training, delay period (gap) and test in every fold.
TRAIN_DAYS = GAP_DAYS = TEST_DAYS = 7
EXPERIMENT = "handbook-protocol"
#: Column headings of the printed tables.
METRIC_LABELS = {"roc_auc": "ROC AUC", "average_precision": "AP", "card_precision_at_100": "CP@100"}


def handbook_folds(train: TrainParams) -> list[TrainParams]:
    """``train`` with the split of each prequential fold, latest fold first.

    Fold ``i`` trains on ``[LATEST_TRAIN_START - 7 i, +7 d)`` and tests on the 7 days that
    start 14 days after its training start; models and imbalance policy stay ``train``'s.
    """
    folds = []
    for i in range(N_FOLDS):
        start = LATEST_TRAIN_START - dt.timedelta(days=i * FOLD_STEP_DAYS)
        folds.append(
            train.model_copy(
                update={
                    "train_start": start,
                    "train_days": TRAIN_DAYS,
                    "gap_days": GAP_DAYS,
                    "test_start": start + dt.timedelta(days=TRAIN_DAYS + GAP_DAYS),
                    "test_days": TEST_DAYS,
                }
            )
        )
    return folds


def fold_summary(per_fold: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population, as scikit-learn's ``GridSearchCV``) standard deviation of
    each metric in :data:`HANDBOOK_BEST` over the folds: ``{metric: {mean, std}}``."""
    if not per_fold:
        raise ValueError("no folds to summarise")
    return {
        metric: {
            "mean": statistics.fmean(fold[metric] for fold in per_fold),
            "std": statistics.pstdev(fold[metric] for fold in per_fold),
        }
        for metric in HANDBOOK_BEST
    }


def beats_published(summary: Mapping[str, Mapping[str, float]]) -> dict[str, bool]:
    """Whether each mean in ``summary`` is above the handbook's published value."""
    return {m: summary[m]["mean"] > published for m, published in HANDBOOK_BEST.items()}


def run_handbook(
    settings: Settings,
    out_dir: Path,
    console: Console,
    *,
    train: TrainParams,
    defs_dir: Path = Path("feature_defs"),
) -> dict[str, dict[str, object]]:
    """Simulate, featurise, train every fold and compare; writes ``out_dir/comparison.json``
    (per family: per-fold metrics, mean/std, and whether each mean beats the published
    baseline) and each fold's ``metrics.json`` under ``out_dir/fold-<train start>/``."""
    started = time.perf_counter()
    sim = simulate(SimulateParams(profile="handbook"))
    log.info("handbook simulation: %d transactions", sim.transactions.num_rows)
    transactions = pseudonymise_transactions(sim.transactions, settings.hmac_key_bytes())
    feature_set = load_feature_set(defs_dir)
    features = compute_features(transactions, sim.customers, sim.labels, feature_set)
    columns = feature_columns_of(features, ID_COLUMNS)
    frame = label_frame(features, sim.labels, sim.customers, columns)

    per_family: dict[str, list[dict[str, float]]] = {}
    fold_windows: list[DateWindow] = []
    for fold in handbook_folds(train):
        console.print(f"fold: train {fold.train_start} +7d, test {fold.test_start} +7d")
        results = train_candidates(
            frame,
            columns,
            fold,
            DecisionParams(),
            tracking_uri=settings.resolved_mlflow_uri,
            experiment=EXPERIMENT,
            lineage={"profile": "handbook", "transactions": str(sim.transactions.num_rows)},
            out_dir=out_dir / f"fold-{fold.train_start}",
        )
        fold_windows.append(results[0].test_window)
        for r in results:
            per_family.setdefault(r.family, []).append({k: r.metrics[k] for k in HANDBOOK_BEST})

    comparison: dict[str, dict[str, object]] = {
        "handbook tuned XGBoost (published)": {"mean": dict(HANDBOOK_BEST)}
    }
    for family, folds in per_family.items():
        summary = fold_summary(folds)
        comparison[f"fraudlake {family}"] = {
            "mean": {m: v["mean"] for m, v in summary.items()},
            "std": {m: v["std"] for m, v in summary.items()},
            "beats_published": beats_published(summary),
            "folds": dict(zip(map(str, fold_windows), folds, strict=True)),
        }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
    _print_tables(console, per_family, fold_windows, frame.shape[0])
    console.print(
        f"comparison → {out_dir / 'comparison.json'}; MLflow experiment {EXPERIMENT!r} in "
        f"{settings.resolved_mlflow_uri} ({time.perf_counter() - started:.0f}s)"
    )
    return comparison


def _print_tables(
    console: Console,
    per_family: Mapping[str, Sequence[Mapping[str, float]]],
    fold_windows: Sequence[DateWindow],
    n_rows: int,
) -> None:
    table = Table(
        title=f"handbook protocol: mean ± std over {len(fold_windows)} prequential test weeks "
        f"({n_rows:,} transactions)"
    )
    table.add_column("model")
    for metric in HANDBOOK_BEST:
        table.add_column(METRIC_LABELS[metric], justify="right")
    table.add_row(
        "handbook tuned XGBoost (published)", *(f"{v:.3f}" for v in HANDBOOK_BEST.values())
    )
    for family, folds in per_family.items():
        summary = fold_summary(folds)
        wins = beats_published(summary)
        table.add_row(
            f"fraudlake {family}",
            *(
                f"[{'green' if wins[m] else 'red'}]{s['mean']:.3f}[/] ± {s['std']:.3f}"
                for m, s in summary.items()
            ),
        )
    console.print(table)

    detail = Table(title="per test week")
    detail.add_column("test week")
    detail.add_column("model")
    for metric in HANDBOOK_BEST:
        detail.add_column(METRIC_LABELS[metric], justify="right")
    for i, window in enumerate(fold_windows):
        last = window.end - dt.timedelta(days=1)
        for family, folds in per_family.items():
            detail.add_row(
                f"{window.start}..{last:%m-%d}",
                family,
                *(f"{folds[i][m]:.3f}" for m in HANDBOOK_BEST),
            )
    console.print(detail)
