"""The JSON payloads of the Kafka topics the lake sinks, and their conversion to Arrow.

One pydantic model per topic, field for field the lake schema of its table
(:data:`~fraudlake.schemas.DECISIONS`, :data:`~fraudlake.schemas.LABELS`), validated
strictly: ``"1"`` is not an id, ``"true"`` is not a boolean, a timestamp must carry its
zone. Fields a producer adds that the table does not know are ignored, so a newer
producer does not stall an older sink.

:func:`parse_messages` is pure: it never raises on a bad message. Each message becomes
either a row or a :class:`DeadLetter` that keeps the message's coordinates, its bytes and
the reason, so nothing is dropped silently and one bad message cannot stop the stream.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from fraudlake import schemas

#: Arrow's int64 range; a bigger JSON integer must be a dead letter, not an overflow that
#: fails the whole batch's conversion.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
#: JSON has no NaN or infinity, but the parser accepts them; no score or amount is either.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


def _version_text(value: object) -> object:
    # MLflow registry versions are integers shown as text; a producer sending 3 for "3"
    # loses nothing, so accept it. bool is an int subclass and is not a version.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class StreamMessage(BaseModel):
    """A topic's payload: one JSON object per Kafka message value."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    #: The Arrow schema of the rows :meth:`to_row` produces (the table's lake schema).
    arrow_schema: ClassVar[pa.Schema]

    def to_row(self) -> dict[str, Any]:
        """The message as one row of :attr:`arrow_schema`, timestamps in UTC."""
        row = self.model_dump()
        for name, value in row.items():
            if isinstance(value, dt.datetime):
                row[name] = value.astimezone(dt.UTC)
        return row


class DecisionMessage(StreamMessage):
    """Kafka ``decisions``: what the scorer decided for one transaction, and why."""

    arrow_schema: ClassVar[pa.Schema] = schemas.DECISIONS

    transaction_id: Int64
    event_ts: AwareDatetime | None = None
    customer_id: Int64 | None = None
    card_id: str | None = None
    terminal_id: Int64 | None = None
    amount: FiniteFloat | None = None
    score: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    decision: Literal["approve", "review", "decline"]
    model_name: NonEmptyStr
    model_version: Annotated[NonEmptyStr, BeforeValidator(_version_text)] | None = None
    model_alias: str | None = None
    #: The top reasons, most important first: any JSON values (strings, or objects such as
    #: ``{"feature": ..., "contribution": ...}``); stored as a JSON text.
    reasons: list[Any] | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    #: The feature vector the model scored, by name; stored as a JSON text.
    features: dict[str, float | None] | None = None
    #: The challenger's shadow score (version, score, decision); stored as a JSON text.
    shadow: dict[str, Any] | None = None
    latency_ms: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    decided_at: AwareDatetime

    @model_validator(mode="after")
    def _scored_unless_degraded(self) -> DecisionMessage:
        if not self.degraded:
            missing = [n for n in ("score", "model_version") if getattr(self, n) is None]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} missing: only a degraded decision (the fallback "
                    "rules) comes without a model's score and version"
                )
        return self

    def to_row(self) -> dict[str, Any]:
        row = super().to_row()
        for name in ("reasons", "features", "shadow"):
            if row[name] is not None:
                row[name] = json.dumps(row[name], ensure_ascii=False)
        return row


class LabelMessage(StreamMessage):
    """Kafka ``labels``: an investigation outcome, known at ``reported_at``."""

    arrow_schema: ClassVar[pa.Schema] = schemas.LABELS

    transaction_id: Int64
    is_fraud: bool
    fraud_scenario: str
    reported_at: AwareDatetime


#: The payload model of each topic the lake sinks, by topic name.
PAYLOADS: dict[str, type[StreamMessage]] = {
    "decisions": DecisionMessage,
    "labels": LabelMessage,
}


@dataclass(frozen=True)
class RawMessage:
    """A Kafka record as consumed: its coordinates and its undecoded bytes."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp_ms: int | None = None


def _text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    """``(text, None)`` for UTF-8 bytes, ``(None, base64)`` for anything else."""
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not become a row: where it was, what it held, and why.

    ``value`` is the message text when it is UTF-8, else ``value_base64`` holds its bytes;
    together with ``topic``/``partition``/``offset`` that is enough to fix and replay it.
    """

    topic: str
    partition: int
    offset: int
    error: str
    value: str | None
    value_base64: str | None
    key: str | None
    timestamp_ms: int | None

    @classmethod
    def of(cls, message: RawMessage, error: str) -> DeadLetter:
        value, value_b64 = _text_or_base64(message.value)
        key, key_b64 = _text_or_base64(message.key)
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=error,
            value=value,
            value_base64=value_b64,
            key=key if key_b64 is None else f"base64:{key_b64}",
            timestamp_ms=message.timestamp_ms,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "error": self.error,
            "value": self.value,
            "value_base64": self.value_base64,
            "key": self.key,
            "timestamp_ms": self.timestamp_ms,
        }


def describe(error: ValidationError) -> str:
    """One line naming every failing field and why, e.g. ``score: Input should be ...``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ParsedBatch:
    """The rows of the valid messages, in input order, and the dead letters of the rest."""

    table: pa.Table
    dead_letters: list[DeadLetter]


def parse_messages(messages: Iterable[RawMessage], model: type[StreamMessage]) -> ParsedBatch:
    """Validate each message value as ``model`` and collect the rows as an Arrow table.

    Pure and total: every input message ends up in exactly one of ``table`` (schema
    ``model.arrow_schema``) or ``dead_letters`` (null value, invalid JSON or UTF-8, not an
    object, a missing field, a wrong type or value). Never raises on message content.
    """
    rows: list[dict[str, Any]] = []
    dead: list[DeadLetter] = []
    for message in messages:
        if message.value is None:
            dead.append(DeadLetter.of(message, "message: null value (a tombstone?)"))
            continue
        try:
            payload = model.model_validate_json(message.value)
        except ValidationError as error:
            dead.append(DeadLetter.of(message, describe(error)))
            continue
        rows.append(payload.to_row())
    return ParsedBatch(pa.Table.from_pylist(rows, schema=model.arrow_schema), dead)
