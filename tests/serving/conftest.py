"""A scoring service over real parts: Redis with customers and history, a Kafka broker
for ``decisions``, and an MLflow registry (SQLite store) holding a champion and a
challenger trained on the project's feature names."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import redis
from kafka import KafkaConsumer

from fraudlake.features.definitions import FeatureSet, load_feature_set
from fraudlake.online.profiles import write_profiles
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.params import LightGBMParams, ModelParams, XGBoostParams, load_params
from fraudlake.privacy import card_id
from fraudlake.serving.settings import ServingSettings
from fraudlake.settings import DEV_HMAC_KEY
from fraudlake.stream_features.events import Transaction, to_us
from fraudlake.stream_features.plan import build_stages
from fraudlake.training.models import ModelFamily, NativeModel, fit
from fraudlake.training.tracking import ensure_experiment, log_native_model, use_mlflow
from tests.kafka_broker import running_broker
from tests.services import running_redis

MODEL_NAME = load_params("params.yaml").registry.model_name
TOKEN = "test-token-0123456789"
#: When the scored transactions happen (history is written before it).
NOW = dt.datetime(2024, 3, 1, 15, 0, tzinfo=dt.UTC)
CUSTOMERS = 20
SMALL = ModelParams(
    lightgbm=LightGBMParams(n_estimators=60, min_child_samples=10),
    xgboost=XGBoostParams(n_estimators=60, max_depth=4),
)


def training_frame(
    features: FeatureSet, seed: int, n: int = 4000
) -> tuple[pd.DataFrame, np.ndarray]:
    """Random values for every feature; fraud when the amount is above 220 (the
    simulation's rule (a)) or the card made 8 or more transactions in the last hour."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(0, 5, n) for name in features.names})
    frame["amount"] = rng.uniform(1, 400, n)
    frame["card_count_1h"] = rng.poisson(3.0, n).astype(float)
    y = ((frame["amount"] > 220) | (frame["card_count_1h"] >= 8)).astype(int).to_numpy()
    return frame, y


def register(uri: str, artifacts: str, model: NativeModel, example: pd.DataFrame) -> int:
    client = use_mlflow(uri)
    experiment = ensure_experiment(client, "serving-tests", artifacts)
    with mlflow.start_run(experiment_id=experiment):
        info = log_native_model(model, example)
    return int(mlflow.register_model(info.model_uri, MODEL_NAME).version)


@dataclass
class Registered:
    uri: str
    artifacts: str
    versions: dict[str, int]
    models: dict[int, NativeModel]

    def set_alias(self, alias: str, version: int) -> None:
        use_mlflow(self.uri).set_registered_model_alias(MODEL_NAME, alias, str(version))

    def delete_alias(self, alias: str) -> None:
        use_mlflow(self.uri).delete_registered_model_alias(MODEL_NAME, alias)


@pytest.fixture(scope="session")
def features() -> FeatureSet:
    return load_feature_set("feature_defs")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, features: FeatureSet) -> Registered:
    """Three versions: 1 LightGBM (champion), 2 XGBoost (challenger), 3 LightGBM (spare,
    another seed) — all with the project's feature names."""
    root = tmp_path_factory.mktemp("mlflow")
    (root / "artifacts").mkdir()
    uri, artifacts = f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()
    versions: dict[str, int] = {}
    models: dict[int, NativeModel] = {}
    families: list[tuple[str, ModelFamily, int]] = [
        ("lgbm", "lightgbm", 1),
        ("xgb", "xgboost", 2),
        ("lgbm-b", "lightgbm", 3),
    ]
    for label, family, seed in families:
        x, y = training_frame(features, seed)
        model = fit(family, x, y, SMALL, seed=seed, scale_pos_weight=1.0)
        version = register(uri, artifacts, model, x)
        versions[label] = version
        models[version] = model
    registered = Registered(uri, artifacts, versions, models)
    registered.set_alias("champion", versions["lgbm"])
    registered.set_alias("challenger", versions["xgb"])
    return registered


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    with running_redis(Path(tmp_path_factory.mktemp("redis"))) as client:
        yield client


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_broker(tmp_path_factory.mktemp("kafka"), topics=[]) as (service, _):
        yield service.config.kafka_bootstrap


def history(customer: int, card: str) -> list[Transaction]:
    """A few earlier transactions of the customer's card (so window features are > 0)."""
    t = to_us(NOW)
    return [
        Transaction(
            transaction_id=customer * 1000 + k,
            event_us=t - (k + 1) * 600_000_000,  # every 10 minutes before NOW
            customer_id=customer,
            card_id=card,
            terminal_id=100 + customer,
            terminal_x=10.0,
            terminal_y=10.0,
            amount=20.0 + k,
        )
        for k in range(5)
    ]


def card_number(customer: int) -> str:
    return f"4000{customer:012d}"


def fill_online(client: redis.Redis, features: FeatureSet) -> None:
    """Reset ``client``'s store to: profiles of customers 0..CUSTOMERS-1 and five
    transactions of each one's card in the hour before NOW."""
    client.flushall()
    write_profiles(
        client,
        [
            {
                "customer_id": c,
                "home_x": 10.0,
                "home_y": 10.0,
                "mean_amount": 40.0,
                "std_amount": 15.0,
            }
            for c in range(CUSTOMERS)
        ],
    )
    writer = OnlineStoreWriter(client, build_stages(features))
    for c in range(CUSTOMERS):
        writer.write(history(c, card_id(card_number(c), DEV_HMAC_KEY.encode())))


@pytest.fixture
def online(redis_server: redis.Redis, features: FeatureSet) -> redis.Redis:
    """The session's Redis, filled by :func:`fill_online`."""
    fill_online(redis_server, features)
    return redis_server


def serving_settings(
    registered: Registered, redis_url: str, kafka_bootstrap: str, home: Path
) -> ServingSettings:
    return ServingSettings(
        home=home,
        mlflow_tracking_uri=registered.uri,
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        api_tokens=TOKEN,  # type: ignore[arg-type]
    )


def transaction(tx_id: int, customer: int = 0, amount: float = 35.0, **extra: object) -> dict:
    """A valid ``/v1/score`` body (JSON-ready)."""
    body: dict[str, object] = {
        "transaction_id": tx_id,
        "event_ts": NOW.isoformat().replace("+00:00", "Z"),
        "customer_id": customer,
        "card_number": card_number(customer),
        "terminal_id": 100 + customer,
        "terminal_x": 12.0,
        "terminal_y": 11.0,
        "merchant_category": "grocery",
        "amount": amount,
        "currency": "EUR",
    }
    body.update(extra)
    return body


def read_decisions(kafka: str, topic: str, want: int | set[int], timeout: float = 30) -> list[dict]:
    """Records on ``topic`` from the start, until there are ``want`` of them (an int) or
    every transaction id of ``want`` (a set) is among them, or ``timeout`` passes."""

    def enough(records: list[dict]) -> bool:
        if isinstance(want, int):
            return len(records) >= want
        return want <= {r["transaction_id"] for r in records}

    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", consumer_timeout_ms=1000
    )
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while not enough(out) and time.monotonic() < deadline:
            for message in consumer:
                out.append(json.loads(message.value))
    finally:
        consumer.close()
    return out
