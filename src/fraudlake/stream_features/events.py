"""The records the streaming feature engines pass around, and their Kafka wire format.

A transaction on Kafka ``transactions`` is one JSON object with the fields of
:data:`fraudlake.schemas.TRANSACTIONS` (the card already pseudonymised as ``card_id``)
and ``event_ts`` in ISO 8601 UTC with microseconds and a ``Z``, keyed by ``card_id``.
A label on ``labels`` is :data:`fraudlake.schemas.LABELS` the same way.

These are plain slotted dataclasses, not pydantic models: every engine handles millions
of them, and the PyFlink environment imports this module too (stdlib only here).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)
_NAIVE_EPOCH = dt.datetime(1970, 1, 1)

#: Transaction fields a message must carry, with their JSON types.
TRANSACTION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "transaction_id": int,
    "event_ts": str,
    "customer_id": int,
    "card_id": str,
    "terminal_id": int,
    "terminal_x": (int, float),
    "terminal_y": (int, float),
    "merchant_category": str,
    "amount": (int, float),
    "currency": str,
}


class EventError(ValueError):
    """A message is not a valid transaction or label; the message names the field."""


def to_us(ts: dt.datetime) -> int:
    """Aware datetime → microseconds since the Unix epoch (exact, no float)."""
    if ts.tzinfo is None:
        raise EventError(f"timestamp {ts.isoformat()} has no time zone")
    return (ts - _EPOCH) // _ONE_US


def from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)


def format_ts(us: int) -> str:
    """Microseconds → ``2024-03-01T00:05:00.000000Z`` (what Flink's JSON format reads).
    ``isoformat`` of a naive UTC time: a fifth of ``strftime``'s cost, on every decision
    record the scorer publishes."""
    return (_NAIVE_EPOCH + dt.timedelta(microseconds=us)).isoformat(timespec="microseconds") + "Z"


def parse_ts(text: str, field: str = "event_ts") -> int:
    """ISO 8601 with a zone (``Z`` or ``+00:00``) → microseconds since the epoch."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise EventError(f"{field}: {text!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise EventError(f"{field}: {text!r} has no time zone (append Z for UTC)")
    return to_us(parsed)


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """Decode one message that must be a JSON object; :class:`EventError` says why not."""
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise EventError(f"{what}: not JSON ({exc})") from exc
    if not isinstance(message, dict):
        raise EventError(f"{what}: not a JSON object")
    return message


def cents_of(amount: float) -> int:
    """Amount → integer cents. Amounts carry at most 2 decimals, so ``amount * 100`` is
    within float error of an integer and every engine's rounding gives the same cents."""
    return round(amount * 100.0)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction as the streaming engines see it (amounts also as exact cents)."""

    transaction_id: int
    event_us: int
    customer_id: int
    card_id: str
    terminal_id: int
    terminal_x: float
    terminal_y: float
    amount: float
    merchant_category: str = ""
    currency: str = ""

    @property
    def cents(self) -> int:
        return cents_of(self.amount)

    def key(self, fields: tuple[str, ...]) -> str:
        """The entity key of this transaction for ``fields`` (e.g. ``("card_id",)``)."""
        if len(fields) == 1:  # most entities; the scorer asks per transaction and stage
            return str(getattr(self, fields[0]))
        return "|".join([str(getattr(self, f)) for f in fields])

    def to_message(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "event_ts": format_ts(self.event_us),
            "customer_id": self.customer_id,
            "card_id": self.card_id,
            "terminal_id": self.terminal_id,
            "terminal_x": self.terminal_x,
            "terminal_y": self.terminal_y,
            "merchant_category": self.merchant_category,
            "amount": self.amount,
            "currency": self.currency,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_message(), separators=(",", ":")).encode()

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Transaction:
        """Validate a decoded ``transactions`` message; :class:`EventError` names the field."""
        for name, kind in TRANSACTION_FIELDS.items():
            value = message.get(name)
            if value is None:
                raise EventError(f"transaction: missing field {name!r}")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise EventError(f"transaction: field {name!r} has the wrong type: {value!r}")
        if message["amount"] < 0:
            raise EventError(f"transaction: field 'amount' is negative: {message['amount']}")
        return cls(
            transaction_id=message["transaction_id"],
            event_us=parse_ts(message["event_ts"]),
            customer_id=message["customer_id"],
            card_id=message["card_id"],
            terminal_id=message["terminal_id"],
            terminal_x=float(message["terminal_x"]),
            terminal_y=float(message["terminal_y"]),
            amount=float(message["amount"]),
            merchant_category=message["merchant_category"],
            currency=message["currency"],
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Transaction:
        """From a lake row (:data:`fraudlake.schemas.TRANSACTIONS`, aware ``event_ts``)."""
        return cls(
            transaction_id=int(row["transaction_id"]),
            event_us=to_us(row["event_ts"]),
            customer_id=int(row["customer_id"]),
            card_id=str(row["card_id"]),
            terminal_id=int(row["terminal_id"]),
            terminal_x=float(row["terminal_x"]),
            terminal_y=float(row["terminal_y"]),
            amount=float(row["amount"]),
            merchant_category=str(row.get("merchant_category", "")),
            currency=str(row.get("currency", "")),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Transaction:
        return cls.from_message(_json_object(raw, "transaction"))


@dataclass(frozen=True, slots=True)
class Label:
    """An investigation outcome as it arrives on Kafka ``labels``."""

    transaction_id: int
    is_fraud: bool
    reported_us: int
    fraud_scenario: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Label:
        """From a lake row (:data:`fraudlake.schemas.LABELS`, aware ``reported_at``)."""
        return cls(
            int(row["transaction_id"]),
            bool(row["is_fraud"]),
            to_us(row["reported_at"]),
            str(row.get("fraud_scenario", "")),
        )

    def to_json(self) -> bytes:
        """The ``labels`` message (the lake sink's :class:`LabelMessage` reads it too)."""
        message = {
            "transaction_id": self.transaction_id,
            "is_fraud": self.is_fraud,
            "fraud_scenario": self.fraud_scenario,
            "reported_at": format_ts(self.reported_us),
        }
        return json.dumps(message, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Label:
        message = _json_object(raw, "label")
        tid, fraud, reported = (
            message.get(k) for k in ("transaction_id", "is_fraud", "reported_at")
        )
        if not isinstance(tid, int) or isinstance(tid, bool):
            raise EventError(f"label: field 'transaction_id' must be an integer, got {tid!r}")
        if not isinstance(fraud, bool):
            raise EventError(f"label: field 'is_fraud' must be true or false, got {fraud!r}")
        if not isinstance(reported, str):
            raise EventError(f"label: field 'reported_at' must be a timestamp, got {reported!r}")
        scenario = message.get("fraud_scenario", "")
        return cls(tid, fraud, parse_ts(reported, "reported_at"), str(scenario))


def stream_time(event: Transaction | Label) -> int:
    """Where an event sits in the stream's event time (microseconds): a transaction at
    its event time, a label at its report time (what watermarks and replay order use)."""
    return event.event_us if isinstance(event, Transaction) else event.reported_us


@dataclass(frozen=True, slots=True)
class KnownFraud:
    """A fraud label joined to its transaction: what a label window needs to count it."""

    transaction: Transaction
    reported_us: int
