"""Scoring service: Ray Serve against a plain FastAPI/uvicorn server and the in-process
limit — the same model, the same online store, the same transactions.

Setup (about a minute): 15 simulated days (default profile); the batch feature engine's
rows of the first 14 train a 200-tree LightGBM, registered as champion in a throw-away
MLflow store; those 14 days' transactions, frauds and the customer profiles go into a
scratch Redis (ports +600) as the streaming job would have written them; day 15's raw
transactions (card numbers included) are the requests. Kafka (scratch) takes every
decision. Both servers run the full path: features from Redis, predict, reasons for
review/decline, the decision published.

Load comes from vegeta (Go, ``make bench`` installs it), so the client does not eat the
servers' CPU as a Python client would: open loop at a fixed rate for latency, closed loop
(32 workers) for the highest rate, and 256-transaction batches (4 workers) for the batch
path.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis
import yaml

from fraudlake.features.batch import compute_features
from fraudlake.features.definitions import load_feature_set
from fraudlake.online.profiles import write_profiles
from fraudlake.online.writer import OnlineStoreWriter
from fraudlake.params import LightGBMParams, ModelParams, SimulateParams, load_params
from fraudlake.privacy import pseudonymise_transactions
from fraudlake.serving.compiled_predictor import compile_predictor, probe_rows
from fraudlake.serving.loaded_models import LoadedModel
from fraudlake.serving.options import ServingOptions
from fraudlake.serving.payloads import TransactionIn
from fraudlake.serving.service import ScoringService
from fraudlake.serving.settings import ServingSettings
from fraudlake.serving.traffic import score_body
from fraudlake.simulation import simulate
from fraudlake.stack.config import StackConfig
from fraudlake.stack.install import install_root
from fraudlake.stack.kafka import KafkaService
from fraudlake.stack.ray_serve import RayServeService
from fraudlake.stack.redis_store import RedisService
from fraudlake.stack.scratch import environment, scratch_stack
from fraudlake.stack.service import Service
from fraudlake.stream_features.events import KnownFraud, Transaction
from fraudlake.stream_features.plan import build_stages
from fraudlake.training.models import fit
from fraudlake.training.tracking import ensure_experiment, log_native_model, use_mlflow

REPO = install_root()
VEGETA = REPO / ".tools" / "bin" / "vegeta"
TOKEN = "bench-token"
HMAC_KEY = "bench-hmac-key"
PORT_OFFSET = 600
BATCH = 256
DAYS = 15


@dataclass
class Setup:
    root: Path
    mlflow_uri: str
    requests: list[dict[str, Any]]
    model: LoadedModel


def prepare(root: Path, client: redis.Redis) -> Setup:
    """Simulate, build features, train and register, fill the online store."""
    params = load_params(REPO / "params.yaml")
    features = load_feature_set(REPO / "feature_defs")
    sim = simulate(SimulateParams(days=DAYS, seed=11))
    tx = pseudonymise_transactions(sim.transactions, HMAC_KEY.encode())
    rows = compute_features(tx, sim.customers, sim.labels, features)
    first_day = pc.min(tx.column("event_ts")).as_py().date()
    last_day_start = dt.datetime.combine(first_day + dt.timedelta(days=DAYS - 1), dt.time(), dt.UTC)
    cutoff = pa.scalar(last_day_start, tx.schema.field("event_ts").type)
    history = pc.less(rows.column("event_ts"), cutoff)
    frauds = set(sim.labels.column("transaction_id").to_pylist())
    train = rows.filter(history).to_pandas()
    y = train["transaction_id"].isin(frauds).astype(int).to_numpy()
    model_params = ModelParams(lightgbm=LightGBMParams(n_estimators=200, max_bin=1024))
    booster = fit("lightgbm", train[features.names], y, model_params, seed=1, scale_pos_weight=1.0)

    mlflow_uri = f"sqlite:///{root / 'mlflow.db'}"
    (root / "artifacts").mkdir()
    mlflow_client = use_mlflow(mlflow_uri)
    experiment = ensure_experiment(mlflow_client, "bench", (root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = log_native_model(booster, train[features.names])
    version = mlflow.register_model(info.model_uri, params.registry.model_name).version
    mlflow_client.set_registered_model_alias(params.registry.model_name, "champion", version)

    # The online store as the stream leaves it at the start of the last day.
    old_tx = tx.filter(pc.less(tx.column("event_ts"), cutoff))
    known = [
        KnownFraud(Transaction.from_row(r), int(lbl["reported_at"].timestamp() * 1_000_000))
        for r, lbl in _fraud_rows(old_tx, sim.labels)
    ]
    writer = OnlineStoreWriter(client, build_stages(features))
    batch: list[Transaction] = []
    for row in old_tx.to_pylist():
        batch.append(Transaction.from_row(row))
        if len(batch) == 5000:
            writer.write(batch)
            batch = []
    writer.write(batch, known)
    write_profiles(client, sim.customers.to_pylist())

    last_day = sim.transactions.filter(
        pc.greater_equal(sim.transactions.column("event_ts"), cutoff)
    )
    requests = [score_body(r) for r in last_day.to_pylist()]
    loaded = LoadedModel.of(params.registry.model_name, int(version), "champion", booster)
    return Setup(root, mlflow_uri, requests, loaded)


def _fraud_rows(tx: pa.Table, labels: pa.Table) -> Iterator[tuple[dict, dict]]:
    by_id = {r["transaction_id"]: r for r in labels.to_pylist()}
    for row in tx.to_pylist():
        label = by_id.get(row["transaction_id"])
        if label is not None:
            yield row, label


# -- in process -------------------------------------------------------------------------


def in_process(
    setup: Setup, settings: ServingSettings, options: ServingOptions
) -> dict[str, float]:
    """Predict alone (one row; 256-row batches) and the whole scorer path (256-row
    batches: Redis features, predict, reasons), no HTTP."""
    model = setup.model
    service = ScoringService.from_settings(settings, options)
    items = [TransactionIn.model_validate(b) for b in setup.requests]
    txs = [service.scorer.transaction(i) for i in items]
    vectors = service.scorer.reader.features_for_many(txs[:BATCH])
    x = np.array([[v[n] for n in model.features] for v in vectors if isinstance(v, dict)])
    out: dict[str, float] = {}
    out["predict_one_rows_s"] = _rate(lambda: model.predict(x[:1]), 1, 2.0)
    out["predict_batch_rows_s"] = _rate(lambda: model.predict(x), len(x), 2.0)
    out["contrib_one_rows_s"] = _rate(lambda: model.contributions(x[:1]), 1, 2.0)
    out |= compiled_predict(model, x, setup.root)
    chunks = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    started = time.perf_counter()
    scored = 0
    for chunk in chunks:
        scored += len(service.scorer.score(chunk, [False] * len(chunk)))
    out["scorer_batch_rows_s"] = scored / (time.perf_counter() - started)
    started = time.perf_counter()
    for item in items[:2000]:
        service.scorer.score([item], [False])
    out["scorer_one_rows_s"] = 2000 / (time.perf_counter() - started)
    service.publisher.close(timeout=1)
    return out


def compiled_predict(model: LoadedModel, x: np.ndarray, work: Path) -> dict[str, float]:
    """The same booster compiled to machine code as the replicas serve it
    (:func:`~fraudlake.serving.compiled_predictor.compile_predictor`, lleaves): compile
    time, and rows/s one row at a time and in batches, single-threaded like the native
    calls. Fails if its scores differ from the native ones."""
    import lightgbm as lgb

    assert isinstance(model.booster, lgb.Booster)
    started = time.perf_counter()
    compiled = compile_predictor(model.booster, work / "compiled", probe_rows(x.shape[1]))
    seconds = time.perf_counter() - started
    np.testing.assert_allclose(compiled(x), model.predict(x), atol=1e-9)
    return {
        "compiled_compile_s": seconds,
        "compiled_one_rows_s": _rate(lambda: compiled(x[:1]), 1, 2.0),
        "compiled_batch_rows_s": _rate(lambda: compiled(x), len(x), 2.0),
    }


def _rate(call: Any, rows: int, seconds: float) -> float:
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        n += 1
    return n * rows / (time.perf_counter() - started)


# -- over HTTP, with vegeta -------------------------------------------------------------


def _targets(path: Path, url: str, bodies: list[dict[str, Any]]) -> Path:
    header = {"Authorization": [f"Bearer {TOKEN}"], "Content-Type": ["application/json"]}
    with path.open("w") as f:
        for body in bodies:
            encoded = base64.b64encode(json.dumps(body).encode()).decode()
            f.write(json.dumps({"method": "POST", "url": url, "body": encoded, "header": header}))
            f.write("\n")
    return path


def vegeta(targets: Path, rate: float, seconds: float, workers: int) -> dict[str, float]:
    """One vegeta attack; returns req/s answered, p50/p99 ms and the share of 2xx."""
    rate_arg = f"{rate:g}/1s" if rate else "0"
    attack = [
        str(VEGETA),
        "attack",
        "-format=json",
        f"-targets={targets}",
        f"-rate={rate_arg}",
        f"-duration={seconds:g}s",
        "-timeout=10s",
        "-keepalive=true",
    ]
    attack += [f"-max-workers={workers}", f"-workers={workers}"] if not rate else ["-workers=8"]
    attacked = subprocess.run(attack, capture_output=True, check=True)
    report = subprocess.run(
        [str(VEGETA), "report", "-type=json"],
        input=attacked.stdout,
        capture_output=True,
        check=True,
    )
    r = json.loads(report.stdout)
    lat = r["latencies"]
    return {
        "rps": r["throughput"],
        "p50_ms": lat["50th"] / 1e6,
        "p99_ms": lat["99th"] / 1e6,
        "success": r["success"],
        "requests": r["requests"],
    }


def cpu_ticks() -> Counter[str]:
    """CPU time (clock ticks) used so far by every live process, by command name."""
    ticks: Counter[str] = Counter()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        ticks[name] += int(rest[11]) + int(rest[12])  # utime + stime
    return ticks


def cpu_shares(before: Counter[str], after: Counter[str], seconds: float) -> dict[str, float]:
    """Cores used per command name between two :func:`cpu_ticks` samples (top 6)."""
    hz = os.sysconf("SC_CLK_TCK")
    used = Counter({k: (after[k] - before.get(k, 0)) / hz / seconds for k in after})
    return dict(used.most_common(6))


def http_suite(base: str, setup: Setup, work: Path, name: str) -> dict[str, float]:
    singles = _targets(work / f"{name}-one.json", f"{base}/v1/score", setup.requests)
    batches = [
        {"transactions": setup.requests[i : i + BATCH]}
        for i in range(0, len(setup.requests) - BATCH, BATCH)
    ]
    batched = _targets(work / f"{name}-batch.json", f"{base}/v1/score/batch", batches)
    vegeta(singles, 100, 3, 8)  # warm up connections and code paths
    out: dict[str, float] = {}
    for key, targets, rate, workers in (
        ("steady", singles, 200, 0),
        ("max", singles, 0, 32),
        ("batch", batched, 0, 4),
    ):
        before, started = cpu_ticks(), time.monotonic()
        result = vegeta(targets, rate, 15, workers)
        cores = cpu_shares(before, cpu_ticks(), time.monotonic() - started)
        out |= {f"{key}_{k}": v for k, v in result.items()}
        out |= {f"{key}_cpu_{process}": v for process, v in cores.items()}
    out["batch_txn_s"] = out["batch_rps"] * BATCH
    return out


@contextmanager
def uvicorn_peer(
    port: int, options: ServingOptions, env: dict[str, str], log: Path
) -> Iterator[str]:
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serving_peer", str(port), options.model_dump_json()],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn peer did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def run() -> dict[str, float]:
    if not VEGETA.exists():
        raise RuntimeError(f"{VEGETA} missing: run `make bench` (it installs vegeta)")
    root = Path(tempfile.mkdtemp(prefix="fraudlake-bench-serve-"))
    serve_config = yaml.safe_load((REPO / "ray_serve" / "serve_config.yaml").read_text())
    user_config = serve_config["applications"][0]["deployments"][0]["user_config"]
    options = ServingOptions.model_validate(user_config)
    env = {
        "FRAUDLAKE_MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "FRAUDLAKE_API_TOKENS": TOKEN,
        "FRAUDLAKE_HMAC_KEY": HMAC_KEY,
        "FRAUDLAKE_PARAMS": str(REPO / "params.yaml"),
        "FRAUDLAKE_HOME": str(root / "home"),
    }

    def services(config: StackConfig) -> list[Service]:
        return [RedisService(config), KafkaService(config), RayServeService(config, env)]

    results: dict[str, float] = {}
    try:
        with scratch_stack(root, PORT_OFFSET, make_services=services, env=env) as stack:
            config = stack.config
            env |= {
                "FRAUDLAKE_REDIS_URL": config.redis_url,
                "FRAUDLAKE_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
            }
            client = redis.Redis.from_url(config.redis_url)
            setup = prepare(root, client)
            results["requests"] = len(setup.requests)
            with environment(env):
                settings = ServingSettings()
                results |= {
                    f"inproc_{k}": v for k, v in in_process(setup, settings, options).items()
                }
            with uvicorn_peer(config.serve.http_port + 50, options, env, root / "peer.log") as base:
                results |= {
                    f"peer_{k}": v for k, v in http_suite(base, setup, root, "peer").items()
                }
            (ray,) = [s for s in stack.services if isinstance(s, RayServeService)]
            # Deployed at `up`, before the champion existed: reload makes replicas load it.
            ray_config = ray.serve_config()
            ray_config["applications"][0]["deployments"][0]["user_config"]["reload"] = "bench"
            ray.deploy(ray_config)
            results |= {
                f"ray_{k}": v for k, v in http_suite(config.scoring_url, setup, root, "ray").items()
            }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
