"""The scoring API in-process (FastAPI's TestClient over the real app) against real
Redis, Kafka and an MLflow registry: what it answers, what it refuses, what it publishes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from fraudlake.features.definitions import FeatureSet
from fraudlake.online.reader import OnlineFeatureReader
from fraudlake.params import load_params
from fraudlake.serving.api import create_app
from fraudlake.serving.decision import decide
from fraudlake.serving.loaded_models import UnservableModelError
from fraudlake.serving.options import ServingOptions
from fraudlake.serving.service import ScoringService
from fraudlake.stream_features.events import parse_ts
from fraudlake.streaming.messages import DecisionMessage, RawMessage, parse_messages
from fraudlake.training.models import feature_names, fit
from tests.serving.conftest import (
    CUSTOMERS,
    SMALL,
    TOKEN,
    Registered,
    read_decisions,
    register,
    serving_settings,
    training_frame,
    transaction,
)
from tests.streaming.conftest import create_topic

AUTH = {"Authorization": f"Bearer {TOKEN}"}
THRESHOLDS = load_params("params.yaml").decision


def redis_url(client: redis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/0"


@pytest.fixture(scope="module")
def service(
    registry: Registered,
    redis_server: redis.Redis,
    kafka: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ScoringService]:
    registry.set_alias("champion", registry.versions["lgbm"])
    registry.set_alias("challenger", registry.versions["xgb"])
    settings = serving_settings(
        registry, redis_url(redis_server), kafka, tmp_path_factory.mktemp("home")
    )
    svc = ScoringService.from_settings(settings, ServingOptions())
    yield svc
    svc.publisher.close()


@pytest.fixture
def client(service: ScoringService, online: redis.Redis, kafka: str) -> Iterator[TestClient]:
    """A client of the API; decisions go to a fresh topic (``client.topic``)."""
    topic = create_topic(kafka, partitions=1)
    service.configure(ServingOptions(decisions_topic=topic))
    with TestClient(create_app(service)) as c:
        c.topic = topic  # type: ignore[attr-defined]
        yield c


def test_score_is_the_champions_on_the_online_features(
    client: TestClient, service: ScoringService, registry: Registered
) -> None:
    reply = client.post("/v1/score", json=transaction(1, customer=3), headers=AUTH)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    champion = registry.versions["lgbm"]
    assert body["model"] == {
        "name": service.scorer.slots.source.name,
        "version": champion,
        "alias": "champion",
    }
    assert body["degraded"] is False
    # The same vector through the reader and the booster gives the same score.
    item = service.scorer.transaction(
        __import__("fraudlake.serving.payloads", fromlist=["TransactionIn"]).TransactionIn(
            **transaction(1, customer=3)
        )
    )
    reader: OnlineFeatureReader = service.scorer.reader
    found = reader.features_for(item)
    assert found["card_count_1h"] == 5  # the history the fixture wrote is seen
    model = registry.models[champion]
    x = np.array([[found[n] for n in feature_names(model)]])
    expected = float(model.predict(x)[0])
    assert body["score"] == pytest.approx(expected, abs=1e-12)
    assert body["decision"] == decide(expected, THRESHOLDS)


def test_a_high_amount_is_declined_with_the_amount_among_its_reasons(client: TestClient) -> None:
    body = client.post("/v1/score", json=transaction(2, amount=390.0), headers=AUTH).json()
    assert body["decision"] == "decline"
    assert body["reasons"], "a decline always carries reasons"
    assert "amount" in [r["feature"] for r in body["reasons"]]
    contributions = [r["contribution"] for r in body["reasons"]]
    assert contributions == sorted(contributions, reverse=True)
    assert all(c > 0 for c in contributions)


def test_an_approval_has_reasons_only_when_asked(client: TestClient) -> None:
    plain = client.post("/v1/score", json=transaction(3, amount=12.0), headers=AUTH).json()
    assert plain["decision"] == "approve"
    assert plain["reasons"] == []
    explained = client.post(
        "/v1/score", json=transaction(3, amount=12.0, explain=True), headers=AUTH
    ).json()
    assert explained["score"] == plain["score"]
    assert all(r["contribution"] > 0 for r in explained["reasons"])


def test_a_zero_amount_card_check_is_scored(client: TestClient) -> None:
    # The lake takes amounts in [0, cap): a card verification of 0 is a transaction too.
    reply = client.post("/v1/score", json=transaction(6, amount=0.0), headers=AUTH)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["transaction_id"] == 6 and not body["degraded"]
    assert 0.0 <= body["score"] <= 1.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong-token", "not-bearer"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/score", transaction(4)),
        ("post", "/v1/score/batch", {"transactions": [transaction(4)]}),
        ("get", "/v1/model", None),
    ],
)
def test_without_a_valid_token_every_route_but_health_is_401(
    client: TestClient, headers: dict[str, str], method: str, path: str, body: Any
) -> None:
    reply = client.request(method, path, json=body, headers=headers)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in reply.json()["detail"]


def test_health_needs_no_token_and_says_what_is_loaded(
    client: TestClient, registry: Registered
) -> None:
    reply = client.get("/v1/health")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ok",
        "model_version": registry.versions["lgbm"],
        "online_store": "up",
    }


def _without(body: dict, field: str) -> dict:
    return {k: v for k, v in body.items() if k != field}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (_without(transaction(5), "amount"), "amount", "Field required"),
        (transaction(5, amount="lots"), "amount", "valid number"),
        (transaction(5, amount=-3.0), "amount", "greater than or equal to 0"),
        (transaction(5, customer_id="seven"), "customer_id", "valid integer"),
        (transaction(5, currency="XYZ"), "currency", "not scored here"),
        (transaction(5, currency="eur"), "currency", "pattern"),
        (transaction(5, event_ts="yesterday"), "event_ts", "datetime"),
        (transaction(5, event_ts="2024-03-01T15:00:00"), "event_ts", "time zone"),
        (transaction(5, event_ts="0001-01-01T00:00:00+00:01"), "event_ts", "must lie in"),
        (transaction(5, event_ts="1969-12-31T23:59:59Z"), "event_ts", "must lie in"),
        (transaction(5, event_ts="9999-12-31T23:59:59-01:00"), "event_ts", "must lie in"),
        (transaction(5, card_number="4000-1234"), "card_number", "pattern"),
        (transaction(5, terminal_x=float("nan")), "terminal_x", "finite"),
        (transaction(5, surprise=1), "surprise", "Extra inputs"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_bad_transaction_gets_422_naming_the_field(
    client: TestClient, body: dict, field: str, words: str
) -> None:
    reply = client.post(
        "/v1/score",
        content=json.dumps(body, allow_nan=True),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert reply.status_code == 422, reply.text
    problems = reply.json()["detail"]
    assert any(p["loc"][-1] == field and words in p["msg"] for p in problems), problems


def test_both_or_neither_card_is_refused(client: TestClient) -> None:
    both = transaction(6, card_id="0" * 32)
    neither = _without(transaction(6), "card_number")
    for body in (both, neither):
        reply = client.post("/v1/score", json=body, headers=AUTH)
        assert reply.status_code == 422
        assert "exactly one of card_number or card_id" in reply.text


def test_a_batch_above_the_limit_is_refused_naming_the_limit(
    client: TestClient, service: ScoringService
) -> None:
    limit = 5
    service.configure(service.options.model_copy(update={"max_batch": limit}))
    reply = client.post(
        "/v1/score/batch",
        json={"transactions": [transaction(i) for i in range(limit + 1)]},
        headers=AUTH,
    )
    assert reply.status_code == 422
    (problem,) = reply.json()["detail"]
    assert problem["loc"] == ["body", "transactions"]
    assert f"at most {limit}" in problem["msg"]
    ok = client.post(
        "/v1/score/batch",
        json={"transactions": [transaction(i) for i in range(limit)]},
        headers=AUTH,
    )
    assert ok.status_code == 200


def test_a_bad_transaction_inside_a_batch_is_named_by_its_index(client: TestClient) -> None:
    items = [transaction(1), transaction(2, currency="USD")]
    reply = client.post("/v1/score/batch", json={"transactions": items}, headers=AUTH)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "transactions", 1, "currency"]


@pytest.mark.parametrize(
    ("content", "loc", "words"),
    [
        (b'{"transactions": [', ["body"], "Invalid JSON"),
        (b"\xff\xfe", ["body"], "Invalid JSON"),
        (b"", ["body"], "Invalid JSON"),
        (b'{"transactions": []}', ["body", "transactions"], "at least 1 item"),
        (b'{"transactions": [7]}', ["body", "transactions", 0], "should be an object"),
        (b'{"explain": true}', ["body", "transactions"], "Field required"),
        (b'{"transactions": [], "more": 1}', ["body", "more"], "Extra inputs"),
    ],
    ids=["cut-short", "not-utf8", "empty", "no-items", "not-an-object", "no-list", "extra"],
)
def test_a_malformed_batch_body_gets_422_naming_where(
    client: TestClient, content: bytes, loc: list[Any], words: str
) -> None:
    reply = client.post(
        "/v1/score/batch", content=content, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert reply.status_code == 422, reply.text
    problems = reply.json()["detail"]
    assert any(p["loc"] == loc and words in p["msg"] for p in problems), problems
    # Unparseable bytes are not echoed back.
    assert all(p["input"] == {} for p in problems if p["type"] == "json_invalid")


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_a_batch_not_sent_as_json_gets_422_saying_how_to_send_it(
    client: TestClient, content_type: str | None
) -> None:
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    body = json.dumps({"transactions": [transaction(1)]})
    reply = client.post("/v1/score/batch", content=body, headers=headers)
    assert reply.status_code == 422, reply.text
    (problem,) = reply.json()["detail"]
    assert problem["loc"] == ["body"] and "Content-Type: application/json" in problem["msg"]
    sent_as_json = client.post(
        "/v1/score/batch",
        content=body,
        headers={**AUTH, "Content-Type": "application/json; charset=utf-8"},
    )
    assert sent_as_json.status_code == 200, sent_as_json.text


def test_the_published_batch_body_is_the_validated_one(client: TestClient) -> None:
    """The batch route reads its body itself; its spec must still say what it takes."""
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/score/batch"]["post"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    batch = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert batch["required"] == ["transactions"] and batch["additionalProperties"] is False
    item_ref = batch["properties"]["transactions"]["items"]["$ref"]
    item = spec["components"]["schemas"][item_ref.rsplit("/", 1)[-1]]
    assert set(item["required"]) >= {"transaction_id", "event_ts", "amount", "currency"}
    assert item["properties"]["amount"]["minimum"] == 0


def test_a_body_above_the_size_limit_is_413(client: TestClient, service: ScoringService) -> None:
    service.configure(service.options.model_copy(update={"max_body_bytes": 4096}))
    items = [transaction(i) for i in range(40)]  # ~10 kB
    reply = client.post("/v1/score/batch", json={"transactions": items}, headers=AUTH)
    assert reply.status_code == 413
    assert "4096-byte limit" in reply.json()["detail"]


def test_a_batch_answers_each_transaction_as_alone(client: TestClient) -> None:
    items = [transaction(100 + c, customer=c, amount=15.0 + 20 * c) for c in range(CUSTOMERS)]
    batch = client.post("/v1/score/batch", json={"transactions": items}, headers=AUTH)
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["transaction_id"] for r in results] == [t["transaction_id"] for t in items]
    for item, result in zip(items, results, strict=True):
        alone = client.post("/v1/score", json=item, headers=AUTH).json()
        assert alone["score"] == pytest.approx(result["score"], abs=1e-12)
        assert alone["decision"] == result["decision"]


def test_an_unknown_customer_is_decided_by_the_rules_not_an_error(client: TestClient) -> None:
    reply = client.post(
        "/v1/score", json=transaction(7, customer=CUSTOMERS + 50, amount=300.0), headers=AUTH
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["degraded"] is True
    assert "no profile" in body["degraded_reason"]
    assert body["score"] is None
    assert body["decision"] == "review"  # 300 >= fallback.review_amount (220)
    assert body["reasons"][0]["feature"].startswith("rule: amount >= 220")


def test_every_answered_decision_is_published_without_the_card_number(
    client: TestClient, kafka: str
) -> None:
    answers = {}
    sent_at = {}
    for i in range(30):
        body = transaction(1000 + i, customer=i % CUSTOMERS, amount=10.0 + 13 * i)
        answers[body["transaction_id"]] = client.post("/v1/score", json=body, headers=AUTH).json()
        sent_at[body["transaction_id"]] = body["event_ts"]
    # Event times differ inside the batch: each record must carry its own.
    batch = [
        transaction(2000 + i, customer=i % CUSTOMERS, event_ts=f"2024-03-01T14:{i:02d}:07.{i}5Z")
        for i in range(10)
    ]
    batch.append(transaction(2010, customer=CUSTOMERS + 50))  # no profile: by the rules
    sent_at |= {b["transaction_id"]: b["event_ts"] for b in batch}
    for r in client.post("/v1/score/batch", json={"transactions": batch}, headers=AUTH).json()[
        "results"
    ]:
        answers[r["transaction_id"]] = r
    records = read_decisions(kafka, client.topic, len(answers))  # type: ignore[attr-defined]
    by_id = {r["transaction_id"]: r for r in records}
    assert len(records) == len(by_id) == len(answers)
    for tx_id, answer in answers.items():
        record = by_id[tx_id]
        assert record["score"] == answer["score"]
        assert record["decision"] == answer["decision"]
        assert record["model_version"] == answer["model"]["version"]
        assert record["reasons"] == answer["reasons"]
        assert record["degraded"] == answer["degraded"]
        if not answer["degraded"]:
            assert len(record["features"]) == 42
        assert record["latency_ms"] > 0
        assert len(record["card_id"]) == 32
        assert record["event_ts"].endswith("Z")
        assert parse_ts(record["event_ts"]) == parse_ts(sent_at[tx_id])
    assert "4000" + "0" * 8 not in json.dumps(records)  # no card number anywhere
    assert answers[2010]["degraded"] and answers[2010]["score"] is None
    # Each record is a row of audit.decisions as the stream sink parses it; none is refused.
    parsed = parse_messages(
        [RawMessage("decisions", 0, i, json.dumps(r).encode()) for i, r in enumerate(records)],
        DecisionMessage,
    )
    assert parsed.dead_letters == []
    rows = {r["transaction_id"]: r for r in parsed.table.to_pylist()}
    assert {i: r["decision"] for i, r in rows.items()} == {
        i: a["decision"] for i, a in answers.items()
    }
    assert rows[2010]["model_version"] is None and rows[2010]["degraded"] is True


def test_shadow_scores_are_recorded_and_never_answered(
    client: TestClient, service: ScoringService, registry: Registered, kafka: str
) -> None:
    service.configure(service.options.model_copy(update={"shadow_share": 0.5}))
    answers = [
        client.post(
            "/v1/score", json=transaction(3000 + i, customer=i % CUSTOMERS), headers=AUTH
        ).json()
        for i in range(40)
    ]
    assert {a["model"]["version"] for a in answers} == {registry.versions["lgbm"]}
    records = read_decisions(kafka, client.topic, 40)  # type: ignore[attr-defined]
    shadowed = [r for r in records if r["shadow"] is not None]
    assert 8 <= len(shadowed) <= 32  # about half, fixed by the transaction ids
    assert {r["shadow"]["model_version"] for r in shadowed} == {registry.versions["xgb"]}
    model = registry.models[registry.versions["xgb"]]
    for r in shadowed:
        x = np.array([[r["features"][n] for n in feature_names(model)]])
        assert r["shadow"]["score"] == pytest.approx(float(model.inplace_predict(x)[0]), abs=1e-6)


def test_the_canary_share_is_answered_by_the_challenger(
    client: TestClient, service: ScoringService, registry: Registered
) -> None:
    service.configure(service.options.model_copy(update={"canary_share": 1.0}))
    body = client.post("/v1/score", json=transaction(8), headers=AUTH).json()
    assert body["model"]["alias"] == "challenger"
    assert body["model"]["version"] == registry.versions["xgb"]


def test_a_new_champion_is_served_after_a_refresh(
    client: TestClient, service: ScoringService, registry: Registered
) -> None:
    before = client.post("/v1/score", json=transaction(9), headers=AUTH).json()
    registry.set_alias("champion", registry.versions["lgbm-b"])
    try:
        assert service.refresh_models() == [
            f"champion {registry.versions['lgbm']} -> {registry.versions['lgbm-b']}"
        ]
        after = client.post("/v1/score", json=transaction(9), headers=AUTH).json()
        assert after["model"]["version"] == registry.versions["lgbm-b"]
        assert after["score"] != before["score"]
        assert (
            client.get("/v1/model", headers=AUTH).json()["version"] == registry.versions["lgbm-b"]
        )
    finally:
        registry.set_alias("champion", registry.versions["lgbm"])
        service.refresh_models()


def test_the_compiled_predictor_answers_as_the_booster(
    client: TestClient, service: ScoringService
) -> None:
    items = [transaction(150 + c, customer=c, amount=15.0 + 20 * c) for c in range(CUSTOMERS)]
    assert client.get("/v1/model", headers=AUTH).json()["predictor"] == "native"
    native = client.post("/v1/score/batch", json={"transactions": items}, headers=AUTH).json()
    service.configure(service.options.model_copy(update={"predictor": "compiled"}))
    assert client.get("/v1/model", headers=AUTH).json()["predictor"] == "compiled"
    compiled = client.post("/v1/score/batch", json={"transactions": items}, headers=AUTH).json()
    for a, b in zip(native["results"], compiled["results"], strict=True):
        assert b["score"] == pytest.approx(a["score"], abs=1e-9)
        assert (b["decision"], b["reasons"]) == (a["decision"], a["reasons"])
    assert {r["decision"] for r in native["results"]} >= {"approve", "decline"}


def test_a_champion_needing_unserved_features_is_refused_and_the_old_one_kept(
    client: TestClient, service: ScoringService, registry: Registered, features: FeatureSet
) -> None:
    x, y = training_frame(features, seed=4)
    x["merchant_risk_90d"] = x["amount"] / 10.0  # a feature feature_defs/ does not define
    model = fit("lightgbm", x, y, SMALL, seed=4, scale_pos_weight=1.0)
    stranger = register(registry.uri, registry.artifacts, model, x)
    registry.set_alias("champion", stranger)
    try:
        with pytest.raises(UnservableModelError, match="merchant_risk_90d") as refused:
            service.refresh_models()
        assert f"keeping version {registry.versions['lgbm']}" in str(refused.value)
        reply = client.post("/v1/score", json=transaction(12), headers=AUTH)
        assert reply.status_code == 200
        assert reply.json()["model"]["version"] == registry.versions["lgbm"]
    finally:
        registry.set_alias("champion", registry.versions["lgbm"])
        service.refresh_models()


def test_without_a_champion_the_api_says_503_and_how_to_get_one(
    registry: Registered, redis_server: redis.Redis, kafka: str, tmp_path: Path
) -> None:
    settings = serving_settings(registry, redis_url(redis_server), kafka, tmp_path)
    settings = settings.model_copy(update={"params": _params_with_model(tmp_path, "nothing-yet")})
    svc = ScoringService.from_settings(settings, ServingOptions())
    try:
        with TestClient(create_app(svc)) as c:
            reply = c.post("/v1/score", json=transaction(10), headers=AUTH)
            assert reply.status_code == 503
            assert "dvc repro" in reply.json()["detail"]
            assert c.get("/v1/health").status_code == 503
    finally:
        svc.publisher.close()


def _params_with_model(folder: Path, name: str) -> Path:
    import yaml

    params = yaml.safe_load(Path("params.yaml").read_text())
    params["registry"]["model_name"] = name
    params["features"]["defs_dir"] = str(Path("feature_defs").resolve())
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_an_unreachable_online_store_gives_degraded_answers(
    registry: Registered, kafka: str, tmp_path: Path
) -> None:
    from tests.services import free_ports

    (closed,) = free_ports(1)  # nothing listens there
    settings = serving_settings(registry, f"redis://127.0.0.1:{closed}/0", kafka, tmp_path)
    svc = ScoringService.from_settings(
        settings, ServingOptions(decisions_topic=f"t-{uuid.uuid4().hex[:8]}")
    )
    try:
        with TestClient(create_app(svc)) as c:
            small = c.post("/v1/score", json=transaction(11, amount=20.0), headers=AUTH).json()
            big = c.post("/v1/score", json=transaction(12, amount=1500.0), headers=AUTH).json()
            assert c.get("/v1/health").json()["online_store"] == "down"
    finally:
        svc.publisher.close(timeout=1)
    assert small["degraded"] is True and big["degraded"] is True
    assert "online store unreachable" in small["degraded_reason"]
    assert (small["decision"], big["decision"]) == ("approve", "decline")
