"""Kafka payloads to Arrow rows: valid messages become rows of the lake schema, every bad
one becomes a dead letter that says where it was and why, and none stops the batch."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fraudlake import schemas
from fraudlake.streaming.dead_letters import (
    dead_letter_path,
    read_dead_letters,
    write_dead_letters,
)
from fraudlake.streaming.messages import (
    PAYLOADS,
    DecisionMessage,
    LabelMessage,
    RawMessage,
    parse_messages,
)
from fraudlake.streaming.sinks import ROUTES

from .conftest import decision, label


def raw(value: bytes | None, offset: int = 0, partition: int = 0, topic: str = "t") -> RawMessage:
    return RawMessage(topic, partition, offset, value, key=b"k", timestamp_ms=1_700_000_000_000)


def as_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_models_match_the_lake_schemas_field_for_field() -> None:
    assert list(DecisionMessage.model_fields) == schemas.DECISIONS.names
    assert list(LabelMessage.model_fields) == schemas.LABELS.names
    assert DecisionMessage.arrow_schema is schemas.DECISIONS
    assert LabelMessage.arrow_schema is schemas.LABELS
    assert set(PAYLOADS) == {route.topic for route in ROUTES.values()} == {"decisions", "labels"}


def test_valid_labels_become_rows_in_utc() -> None:
    messages = [
        raw(as_bytes(label(1, reported_at="2024-03-01T14:00:00+02:00")), offset=0),
        raw(as_bytes(label(2, is_fraud=False, extra_field="ignored")), offset=1),
    ]
    parsed = parse_messages(messages, LabelMessage)
    assert parsed.dead_letters == []
    assert parsed.table.schema == schemas.LABELS
    rows = parsed.table.to_pylist()
    assert [r["transaction_id"] for r in rows] == [1, 2]
    assert rows[0]["reported_at"] == dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert rows[1]["is_fraud"] is False


def test_valid_decisions_keep_reasons_as_json_and_the_model_version() -> None:
    minimal = {
        k: v
        for k, v in decision(9).items()
        if k in {"transaction_id", "score", "decision", "model_name", "model_version"}
    }
    messages = [
        raw(as_bytes(decision(7)), offset=3),
        raw(as_bytes({**minimal, "model_version": 12, "decided_at": "2024-03-01T00:00:00Z"}), 4),
    ]
    parsed = parse_messages(messages, DecisionMessage)
    assert parsed.dead_letters == []
    assert parsed.table.schema == schemas.DECISIONS
    full, bare = parsed.table.to_pylist()
    assert json.loads(full["reasons"]) == decision(7)["reasons"]
    assert full["model_version"] == "4" and full["decision"] == "decline"
    assert full["event_ts"] == dt.datetime(2024, 3, 1, 11, 59, 59, 500_000, tzinfo=dt.UTC)
    # optional transaction details may be missing; the model version never is
    assert bare["model_version"] == "12"
    assert bare["reasons"] is None and bare["event_ts"] is None and bare["amount"] is None


def test_a_degraded_decision_lands_without_score_and_version_and_keeps_its_details() -> None:
    rules = decision(
        8,
        score=None,
        model_name="fallback-rules",
        model_version=None,
        model_alias=None,
        reasons=[{"feature": "rule: amount >= 220", "value": 300.0, "contribution": None}],
        degraded=True,
        degraded_reason="online store unreachable (ConnectionError)",
        latency_ms=1.5,
    )
    scored = decision(
        9,
        customer_id=3,
        model_alias="champion",
        degraded=False,
        features={"amount": 21.5, "card_count_1h": 2.0, "distance_from_home": None},
        shadow={"model_version": 5, "score": 0.2, "decision": "approve"},
    )
    parsed = parse_messages([raw(as_bytes(rules)), raw(as_bytes(scored), 1)], DecisionMessage)
    assert parsed.dead_letters == []
    by_rules, by_model = parsed.table.to_pylist()
    assert by_rules["score"] is None and by_rules["model_version"] is None
    assert by_rules["degraded"] is True and "unreachable" in by_rules["degraded_reason"]
    assert by_model["degraded"] is False and by_model["customer_id"] == 3
    assert json.loads(by_model["features"]) == scored["features"]
    assert json.loads(by_model["shadow"]) == scored["shadow"]


@pytest.mark.parametrize("missing", ["score", "model_version"])
def test_only_a_degraded_decision_may_lack_score_or_version(missing: str) -> None:
    (letter,) = parse_messages(
        [raw(as_bytes(decision(1, **{missing: None})))], DecisionMessage
    ).dead_letters
    assert f"{missing} missing: only a degraded decision" in letter.error


BAD_LABELS: list[tuple[str, bytes | None, str]] = [
    ("not JSON", b"{transaction_id: 1", "message: Invalid JSON"),
    ("not UTF-8", b"\xff\xfe{}", "message: Invalid JSON"),
    ("not an object", b"[1, 2]", "message: Input should be an object"),
    ("tombstone", None, "null value"),
    (
        "missing field",
        as_bytes({k: v for k, v in label(1).items() if k != "is_fraud"}),
        "is_fraud: Field required",
    ),
    (
        "id as text",
        as_bytes({**label(1), "transaction_id": "1"}),
        "transaction_id: Input should be a valid integer",
    ),
    (
        "id beyond int64",
        as_bytes({**label(1), "transaction_id": 2**63}),
        "transaction_id: Input should be less than or equal",
    ),
    (
        "bool as text",
        as_bytes(label(1, is_fraud="true")),
        "is_fraud: Input should be a valid boolean",
    ),
    (
        "naive timestamp",
        as_bytes(label(1, reported_at="2024-03-01T12:00:00")),
        "reported_at: Input should have timezone info",
    ),
    (
        "no timestamp",
        as_bytes(label(1, reported_at=None)),
        "reported_at: Input should be a valid datetime",
    ),
]


@pytest.mark.parametrize(("case", "value", "reason"), BAD_LABELS, ids=[c for c, *_ in BAD_LABELS])
def test_a_bad_label_is_a_dead_letter_with_its_reason(
    case: str, value: bytes | None, reason: str
) -> None:
    messages = [
        raw(as_bytes(label(1)), offset=10, partition=1),
        raw(value, offset=11, partition=1),
        raw(as_bytes(label(2)), offset=12, partition=1),
    ]
    parsed = parse_messages(messages, LabelMessage)
    # the stream goes on around it
    assert parsed.table.column("transaction_id").to_pylist() == [1, 2]
    (letter,) = parsed.dead_letters
    assert (letter.topic, letter.partition, letter.offset) == ("t", 1, 11)
    assert reason in letter.error, letter.error
    assert letter.key == "k" and letter.timestamp_ms == 1_700_000_000_000
    if value is not None and case != "not UTF-8":
        assert letter.value == value.decode() and letter.value_base64 is None
    if case == "not UTF-8":
        assert letter.value is None and letter.value_base64 == "//57fQ=="


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"decision": "maybe"}, "decision: Input should be 'approve', 'review' or 'decline'"),
        ({"score": 1.5}, "score: Input should be less than or equal to 1"),
        ({"score": "0.5"}, "score: Input should be a valid number"),
        ({"model_version": ""}, "model_version: String should have at least 1 character"),
        ({"model_version": True}, "model_version: Input should be a valid string"),
        ({"amount": "12"}, "amount: Input should be a valid number"),
        ({"reasons": "amount"}, "reasons: Input should be a valid array"),
        ({"decided_at": None}, "decided_at: Input should be a valid datetime"),
    ],
)
def test_a_bad_decision_is_a_dead_letter_with_its_reason(
    override: dict[str, Any], reason: str
) -> None:
    parsed = parse_messages([raw(as_bytes(decision(1, **override)), offset=5)], DecisionMessage)
    assert parsed.table.num_rows == 0 and parsed.table.schema == schemas.DECISIONS
    (letter,) = parsed.dead_letters
    assert reason in letter.error, letter.error
    assert letter.offset == 5


def test_nan_is_rejected_although_the_json_parser_reads_it() -> None:
    value = as_bytes(decision(1)).replace(b'"score": 0.91', b'"score": NaN')
    assert b"NaN" in value
    (letter,) = parse_messages([raw(value)], DecisionMessage).dead_letters
    assert letter.error.startswith("score:")


def test_every_failing_field_is_named() -> None:
    value = as_bytes({"transaction_id": "x", "is_fraud": 1})
    (letter,) = parse_messages([raw(value)], LabelMessage).dead_letters
    for field in ("transaction_id", "is_fraud", "fraud_scenario", "reported_at"):
        assert f"{field}:" in letter.error


def test_an_empty_batch_is_an_empty_table_of_the_schema() -> None:
    parsed = parse_messages([], LabelMessage)
    assert parsed.table.num_rows == 0 and parsed.table.schema == schemas.LABELS
    assert isinstance(parsed.table, pa.Table)


def test_dead_letters_are_written_once_per_partition_and_offset(tmp_path: Path) -> None:
    path = dead_letter_path(tmp_path, "labels")
    assert path == tmp_path / "dead-letters" / "labels.jsonl"
    letters = parse_messages(
        [raw(b"oops", offset=1, topic="labels"), raw(b"{}", offset=2, topic="labels")],
        LabelMessage,
    ).dead_letters
    assert write_dead_letters(path, letters) == 2
    assert write_dead_letters(path, letters) == 0  # a replay after a crash adds nothing
    assert write_dead_letters(path, []) == 0
    records = read_dead_letters(path)
    assert [(r["partition"], r["offset"], r["value"]) for r in records] == [
        (0, 1, "oops"),
        (0, 2, "{}"),
    ]
    assert all(r["topic"] == "labels" and r["error"] and r["dead_lettered_at"] for r in records)


def test_a_torn_last_line_does_not_swallow_the_next_letter(tmp_path: Path) -> None:
    path = dead_letter_path(tmp_path, "labels")
    path.parent.mkdir(parents=True)
    path.write_text('{"topic": "labels", "partition": 0, "offs')  # crash mid-write
    (letter,) = parse_messages([raw(b"oops", offset=4, topic="labels")], LabelMessage).dead_letters
    assert write_dead_letters(path, [letter]) == 1
    assert [r["offset"] for r in read_dead_letters(path)] == [4]
    assert read_dead_letters(tmp_path / "missing.jsonl") == []
