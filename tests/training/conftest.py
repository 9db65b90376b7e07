"""Synthetic training sets with a learnable signal, and a throw-away MLflow store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudlake.params import (
    DecisionParams,
    LightGBMParams,
    ModelParams,
    TrainParams,
    XGBoostParams,
)
from fraudlake.training.train import CandidateResult, train_candidates

START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
FEATURES = ["amount_log", "night", "velocity", "noise"]
LINEAGE = {
    "git_commit": "0123abc-dirty",
    "dvc.features:reports/features/snapshot.json": "d41d8cd98f00b204e9800998ecf8427e",
    "snapshot.features.transactions": "8273645512345",
    "odd key=with@chars": "kept in lineage.json",
}


def make_frame(
    seed: int = 0, days: int = 30, n_cards: int = 400, compromised_per_day: int = 5
) -> pd.DataFrame:
    """Card transactions over ``days`` days following the training-set contract.

    Each day ``compromised_per_day`` cards are compromised for 3 days, and 70 % of their
    transactions in that time are fraud. Fraud transactions are larger (``amount_log``),
    more often at night (``night``) and come in bursts (``velocity``); ``noise`` carries no
    signal. Fraud labels are reported 1-5 days after the transaction.
    """
    rng = np.random.default_rng(seed)
    compromised_until: dict[int, int] = {}
    rows: list[dict[str, object]] = []
    tx_id = 0
    for day in range(days):
        for card in rng.choice(n_cards, compromised_per_day, replace=False):
            compromised_until[int(card)] = day + 3
        counts = rng.poisson(1.2, n_cards)
        for card in np.nonzero(counts)[0]:
            card = int(card)
            for _ in range(int(counts[card])):
                fraud = compromised_until.get(card, -1) > day and rng.random() < 0.7
                seconds = int(rng.integers(0, 86_400))
                ts = START + dt.timedelta(days=day, seconds=seconds)
                rows.append(
                    {
                        "transaction_id": tx_id,
                        "event_ts": ts,
                        "card_id": f"card{card:04d}",
                        "customer_id": card // 2,
                        "terminal_id": int(rng.integers(0, 100)),
                        "amount_log": rng.normal(3.0, 0.6) + (1.2 if fraud else 0.0),
                        "night": float(rng.random() < (0.6 if fraud else 0.1)),
                        "velocity": float(rng.poisson(1.0) + (2 if fraud else 0)),
                        "noise": rng.normal(),
                        "is_fraud": int(fraud),
                        "label_reported_at": (
                            ts + dt.timedelta(days=int(rng.integers(1, 6))) if fraud else pd.NaT
                        ),
                        "segment": "premium" if card % 5 == 0 else "mass",
                        "region": "north" if card % 2 else "south",
                    }
                )
                tx_id += 1
    frame = pd.DataFrame(rows)
    frame["event_ts"] = pd.to_datetime(frame["event_ts"], utc=True).astype("datetime64[us, UTC]")
    frame["label_reported_at"] = pd.to_datetime(frame["label_reported_at"], utc=True).astype(
        "datetime64[us, UTC]"
    )
    for col in ("transaction_id", "customer_id", "terminal_id"):
        frame[col] = frame[col].astype("int64")
    return frame.sort_values("event_ts", kind="mergesort").reset_index(drop=True)


@pytest.fixture(scope="session")
def synthetic_frame() -> pd.DataFrame:
    """30 days, ~14 000 transactions, ~2 % fraud, features in :data:`FEATURES`."""
    return make_frame()


@pytest.fixture(scope="session")
def frame_factory() -> Callable[..., pd.DataFrame]:
    """:func:`make_frame` itself, for tests that need other sizes or seeds."""
    return make_frame


@pytest.fixture(scope="session")
def feature_columns() -> list[str]:
    return list(FEATURES)


@pytest.fixture(scope="session")
def train_params() -> TrainParams:
    """14 days of training, 3 days of gap, 7 days of test; small, fast models."""
    return TrainParams(
        train_days=14,
        gap_days=3,
        test_days=7,
        seed=7,
        models=ModelParams(
            lightgbm=LightGBMParams(n_estimators=40, min_child_samples=20, num_leaves=15),
            xgboost=XGBoostParams(n_estimators=40, max_depth=4, min_child_weight=1),
        ),
    )


@pytest.fixture(scope="session")
def decision() -> DecisionParams:
    return DecisionParams()


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(tracking URI of a fresh SQLite store, artifact root folder URI) for the session."""
    root = tmp_path_factory.mktemp("mlflow")
    artifacts = root / "mlartifacts"
    artifacts.mkdir()
    return f"sqlite:///{root / 'mlflow.db'}", artifacts.as_uri()


@pytest.fixture(scope="session")
def candidates(
    synthetic_frame: pd.DataFrame,
    feature_columns: list[str],
    train_params: TrainParams,
    decision: DecisionParams,
    mlflow_store: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[CandidateResult], Path]:
    """Both families trained on every feature and logged once for the session, with
    :data:`LINEAGE`; plus the folder holding ``metrics.json``."""
    uri, artifacts = mlflow_store
    out_dir = tmp_path_factory.mktemp("train-out")
    results = train_candidates(
        synthetic_frame,
        feature_columns,
        train_params,
        decision,
        tracking_uri=uri,
        experiment="train-test",
        lineage=LINEAGE,
        out_dir=out_dir,
        artifact_location=artifacts,
    )
    return results, out_dir


@pytest.fixture(scope="session")
def weak_candidates(
    synthetic_frame: pd.DataFrame,
    train_params: TrainParams,
    decision: DecisionParams,
    mlflow_store: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> list[CandidateResult]:
    """A LightGBM model that sees only the ``noise`` feature: clearly worse."""
    uri, artifacts = mlflow_store
    return train_candidates(
        synthetic_frame,
        ["noise"],
        train_params,
        decision,
        tracking_uri=uri,
        experiment="train-test-weak",
        lineage={"git_commit": "weak"},
        out_dir=tmp_path_factory.mktemp("weak-out"),
        artifact_location=artifacts,
        families=("lightgbm",),
    )
