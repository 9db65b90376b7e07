"""The scoring API on a real Ray head (the stack's ``serve`` service: ``ray start``,
HAProxy ingress, ``serve deploy`` of ``ray_serve/serve_config.yaml``) over real Redis,
Kafka and an MLflow registry: answers, champion swaps and failures under load."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.stack.config import KafkaConfig, RedisConfig, ServeConfig, StackConfig
from fraudlake.stack.process import ProcessTable, session_pids
from fraudlake.stack.ray_serve import RayServeService
from fraudlake.stack.redis_store import RedisService
from fraudlake.stack.scratch import processes_mentioning
from tests.services import free_ports, running
from tests.serving.conftest import (
    CUSTOMERS,
    TOKEN,
    Registered,
    fill_online,
    read_decisions,
    transaction,
)
from tests.streaming.conftest import create_topic

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Scoring:
    service: RayServeService
    url: str
    topic: str

    def service_table_pid(self) -> int | None:
        return ProcessTable(self.service.config.resolved_state_dir).pid("ray")

    def deploy(self, **options: Any) -> None:
        """Redeploy with these ``user_config`` values (applied to running replicas)."""
        config = self.service.serve_config()
        deployment = config["applications"][0]["deployments"][0]
        deployment["user_config"].update({"decisions_topic": self.topic, **options})
        self.service.deploy(config)


@pytest.fixture(scope="module")
def ray_redis(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RedisService, ProcessTable]]:
    """A Redis of this module's own (a test stops it)."""
    (port,) = free_ports(1)
    config = StackConfig(state_dir=tmp_path_factory.mktemp("redis"), redis=RedisConfig(port=port))
    service = RedisService(config)
    with running(service) as table:
        yield service, table


@pytest.fixture
def store(ray_redis: tuple[RedisService, ProcessTable], features: FeatureSet) -> redis.Redis:
    """The module's Redis, running and filled (:func:`fill_online`)."""
    service, table = ray_redis
    if not service.healthy():
        for spec in service.processes():
            table.start(spec)
        wait_for(service.healthy, 30, "redis restarted")
    client = redis.Redis(host="127.0.0.1", port=service.config.redis.port)
    fill_online(client, features)
    return client


@pytest.fixture(scope="module")
def scoring(
    registry: Registered,
    ray_redis: tuple[RedisService, ProcessTable],
    kafka: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scoring]:
    registry.set_alias("champion", registry.versions["lgbm"])
    registry.set_alias("challenger", registry.versions["xgb"])
    names = [n for n in ServeConfig.model_fields if n.endswith("port")]
    serve = ServeConfig(**dict(zip(names, free_ports(len(names)), strict=True)))
    config = StackConfig(
        state_dir=tmp_path_factory.mktemp("stack"),
        serve=serve,
        redis=RedisConfig(port=ray_redis[0].config.redis.port),
        kafka=KafkaConfig(port=int(kafka.rsplit(":", 1)[1])),
    )
    service = RayServeService(
        config,
        env_overrides={
            "FRAUDLAKE_MLFLOW_TRACKING_URI": registry.uri,
            "MLFLOW_TRACKING_URI": registry.uri,
            "FRAUDLAKE_API_TOKENS": TOKEN,
        },
    )
    topic = create_topic(kafka, partitions=1)
    with running(service):
        scoring = Scoring(service, config.scoring_url, topic)
        scoring.deploy(poll_interval_s=1.0)
        yield scoring
    leftovers = processes_mentioning(str(service.ray_temp))
    assert not leftovers, f"Ray processes left after stop: {leftovers}"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@dataclass
class Load:
    """Requests at a steady rate from a background thread; statuses counted."""

    url: str
    rate: float
    codes: Counter[str] = field(default_factory=Counter)
    answers: list[dict] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    next_id: int = 500_000

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=10.0) as client:
            start = time.monotonic()
            sent = 0
            while not self.stop.is_set():
                delay = start + sent / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                body = transaction(self.next_id, customer=self.next_id % CUSTOMERS)
                self.next_id += 1
                sent += 1
                try:
                    reply = self.post(client, body)
                except httpx.HTTPError as exc:
                    self.codes[type(exc).__name__] += 1
                    continue
                self.codes[str(reply.status_code)] += 1
                if reply.status_code == 200:
                    self.answers.append(reply.json())

    def post(self, client: httpx.Client, body: dict) -> httpx.Response:
        """One scoring call as a gateway makes it: a keep-alive connection the server
        side closed (HAProxy reloads when the replica set changes) is retried once on a
        new one — the call is idempotent (same transaction, same answer)."""
        try:
            return client.post("/v1/score", json=body)
        except (httpx.RemoteProtocolError, httpx.ConnectError):
            self.codes["retried"] += 1
            return client.post("/v1/score", json=body)

    def __enter__(self) -> Load:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_the_api_answers_with_the_champion(
    scoring: Scoring, store: redis.Redis, registry: Registered
) -> None:
    reply = httpx.post(f"{scoring.url}/v1/score", json=transaction(1, amount=390.0), headers=AUTH)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["model"]["version"] == registry.versions["lgbm"]
    assert body["decision"] == "decline"
    assert body["degraded"] is False
    # serve_config.yaml serves LightGBM compiled (the swap test below then swaps one).
    model = httpx.get(f"{scoring.url}/v1/model", headers=AUTH).json()
    assert (model["family"], model["predictor"]) == ("lightgbm", "compiled")
    assert httpx.post(f"{scoring.url}/v1/score", json=transaction(1)).status_code == 401
    assert (
        httpx.get(f"{scoring.url}/openapi.json").json()["info"]["title"] == "fraudlake scoring API"
    )


def test_every_answered_decision_reaches_kafka(
    scoring: Scoring, store: redis.Redis, kafka: str
) -> None:
    answered = {}
    with httpx.Client(base_url=scoring.url, headers=AUTH) as client:
        for i in range(60):
            body = transaction(10_000 + i, customer=i % CUSTOMERS, amount=5.0 + 7 * i)
            answered[body["transaction_id"]] = client.post("/v1/score", json=body).json()
        batch = [transaction(20_000 + i, customer=i % CUSTOMERS) for i in range(100)]
        for r in client.post("/v1/score/batch", json={"transactions": batch}).json()["results"]:
            answered[r["transaction_id"]] = r
    records = {
        r["transaction_id"]: r
        for r in read_decisions(kafka, scoring.topic, set(answered))
        if r["transaction_id"] in answered
    }
    assert records.keys() == answered.keys()
    for tx_id, answer in answered.items():
        assert records[tx_id]["score"] == answer["score"]
        assert records[tx_id]["decision"] == answer["decision"]
        assert records[tx_id]["model_version"] == answer["model"]["version"]


def test_a_champion_swap_under_steady_load_fails_no_request(
    scoring: Scoring, store: redis.Redis, registry: Registered
) -> None:
    old, new = registry.versions["lgbm"], registry.versions["lgbm-b"]
    try:
        with Load(scoring.url, rate=100) as load:
            time.sleep(2)
            registry.set_alias("champion", new)
            wait_for(
                lambda: (
                    len(load.answers) > 100
                    and all(a["model"]["version"] == new for a in load.answers[-100:])
                ),
                60,
                "every replica to serve the new champion",
            )
            time.sleep(1)
        assert set(load.codes) <= {"200", "retried"}, load.codes
        versions = [a["model"]["version"] for a in load.answers]
        assert versions[0] == old and versions[-1] == new
        assert sum(load.codes.values()) > 300
    finally:
        registry.set_alias("champion", old)
        scoring.deploy(poll_interval_s=1.0, reload=str(time.time()))


def test_reload_loads_a_new_champion_at_once(
    scoring: Scoring, store: redis.Redis, registry: Registered
) -> None:
    old, new = registry.versions["lgbm"], registry.versions["lgbm-b"]
    scoring.deploy(poll_interval_s=3600.0)  # no poll will come
    registry.set_alias("champion", new)
    try:
        scoring.deploy(poll_interval_s=3600.0, reload="first")
        with httpx.Client(base_url=scoring.url, headers=AUTH) as client:
            versions = {
                client.post("/v1/score", json=transaction(30_000 + i)).json()["model"]["version"]
                for i in range(40)
            }
        assert versions == {new}  # every replica reloaded
    finally:
        registry.set_alias("champion", old)
        scoring.deploy(poll_interval_s=1.0, reload="second")


def replica_pids(scoring: Scoring) -> list[int]:
    ray_pid = scoring.service_table_pid()
    assert ray_pid is not None
    return [
        pid
        for pid in session_pids({ray_pid})
        if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ServeReplica")
    ]


def test_a_replica_killed_under_load_fails_no_request(scoring: Scoring, store: redis.Redis) -> None:
    pids = replica_pids(scoring)
    assert len(pids) == 2, pids
    with Load(scoring.url, rate=100) as load:
        time.sleep(2)
        os.kill(pids[0], signal.SIGKILL)
        killed_at = sum(load.codes.values())
        time.sleep(10)
    after = sum(load.codes.values()) - killed_at
    failed = sum(n for code, n in load.codes.items() if code not in ("200", "retried"))
    assert after > 300, load.codes  # the load went on (the kill may stall it briefly)
    # HAProxy sends what the dead replica held to the other one (retry-on, scoring is
    # idempotent), so not even the requests in flight fail.
    assert failed == 0, load.codes
    wait_for(lambda: len(replica_pids(scoring)) == 2, 120, "Ray to replace the replica")


def test_with_redis_stopped_answers_are_degraded_not_errors(
    scoring: Scoring, store: redis.Redis, ray_redis: tuple[RedisService, ProcessTable]
) -> None:
    _, table = ray_redis
    table.stop("redis")
    with httpx.Client(base_url=scoring.url, headers=AUTH, timeout=10) as client:
        answers = [
            client.post("/v1/score", json=transaction(40_000 + i, amount=amount))
            for i, amount in enumerate([20.0, 300.0, 1500.0] * 10)
        ]
        health = client.get("/v1/health").json()
    assert [a.status_code for a in answers] == [200] * 30
    bodies = [a.json() for a in answers]
    assert all(b["degraded"] for b in bodies)
    assert [b["decision"] for b in bodies[:3]] == ["approve", "review", "decline"]
    assert health["online_store"] == "down"


def test_metrics_count_requests_by_route_and_model_version(
    scoring: Scoring, store: redis.Redis, registry: Registered
) -> None:
    with httpx.Client(base_url=scoring.url, headers=AUTH) as client:
        for i in range(20):
            client.post("/v1/score", json=transaction(50_000 + i))
    url = scoring.service.urls()["metrics"]
    version = registry.versions["lgbm"]

    def exported() -> bool:
        text = httpx.get(url, timeout=5).text
        return (
            any(
                line.startswith("ray_fraudlake_requests_total")
                and 'route="/v1/score"' in line
                and f'model_version="{version}"' in line
                for line in text.splitlines()
            )
            and "ray_fraudlake_request_latency_ms_bucket" in text
            and "ray_fraudlake_decisions_total" in text
        )

    wait_for(exported, 60, "the scoring metrics on Ray's Prometheus endpoint")
