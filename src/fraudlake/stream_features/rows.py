"""The feature row a stream engine publishes for each transaction on Kafka ``features``.

One flat JSON object: the transaction's ids and ``event_ts`` (ISO 8601, ``Z``), every
history feature (window and label windows, in model order) as a JSON number, and
``late`` (true when the transaction arrived after a later one of the same entity had
been applied: its own values are exact, see
:mod:`~fraudlake.stream_features.entity_stage`). Request-time features are not in it:
they need only the transaction and the profile and are computed where the row is used.
Floats survive the JSON round trip exactly (shortest repr).
"""

from __future__ import annotations

import json
from typing import Any

from fraudlake.stream_features.entity_stage import Element
from fraudlake.stream_features.events import format_ts, parse_ts

ID_FIELDS = ("transaction_id", "event_ts", "card_id", "customer_id", "terminal_id")


def feature_row(element: Element, names: list[str]) -> dict[str, Any]:
    """The published row of a transaction that went through every stage."""
    tx = element.transaction
    assert tx is not None, "only transactions have feature rows"
    missing = [n for n in names if n not in element.features]
    if missing:
        raise ValueError(f"transaction {tx.transaction_id} lacks features {missing[:5]}")
    row: dict[str, Any] = {
        "transaction_id": tx.transaction_id,
        "event_ts": format_ts(tx.event_us),
        "card_id": tx.card_id,
        "customer_id": tx.customer_id,
        "terminal_id": tx.terminal_id,
    }
    row.update((n, element.features[n]) for n in names)
    row["late"] = element.late
    return row


def encode_row(row: dict[str, Any]) -> bytes:
    return json.dumps(row, separators=(",", ":")).encode()


def decode_row(raw: bytes | str) -> dict[str, Any]:
    """A published row back to Python (``event_us`` added for convenience)."""
    row: dict[str, Any] = json.loads(raw)
    row["event_us"] = parse_ts(row["event_ts"])
    return row
