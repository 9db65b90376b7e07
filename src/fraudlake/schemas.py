"""Arrow schemas of the raw batches and of the lake tables.

These are the contract between the simulator (or any real feed), ingestion, validation
and the lake. Every timestamp is UTC with microsecond precision, the precision Iceberg
stores.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

#: One row per card transaction, as a card processor's feed delivers it. The card number
#: is the raw PAN-like string; ingestion replaces it with ``card_id`` (keyed HMAC).
RAW_TRANSACTIONS = pa.schema(
    [
        pa.field("transaction_id", pa.int64(), nullable=False),
        pa.field("event_ts", TS, nullable=False),
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("card_number", pa.string(), nullable=False),
        pa.field("terminal_id", pa.int64(), nullable=False),
        pa.field("terminal_x", pa.float64(), nullable=False),
        pa.field("terminal_y", pa.float64(), nullable=False),
        pa.field("merchant_category", pa.string(), nullable=False),
        pa.field("amount", pa.float64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
    ]
)

#: Transactions as they land in the lake: the card number is pseudonymised.
TRANSACTIONS = pa.schema(
    [
        f if f.name != "card_number" else pa.field("card_id", pa.string(), nullable=False)
        for f in RAW_TRANSACTIONS
    ]
)

#: Customer profiles: home location on the simulation grid and spending habits.
CUSTOMERS = pa.schema(
    [
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("home_x", pa.float64(), nullable=False),
        pa.field("home_y", pa.float64(), nullable=False),
        pa.field("mean_amount", pa.float64(), nullable=False),
        pa.field("std_amount", pa.float64(), nullable=False),
        pa.field("mean_tx_per_day", pa.float64(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("n_cards", pa.int32(), nullable=False),
        pa.field("profile_date", pa.date32(), nullable=False),
    ]
)

#: Investigation outcomes. Only confirmed frauds are reported; a transaction without a
#: label is presumed genuine. ``reported_at`` is when the label became known.
LABELS = pa.schema(
    [
        pa.field("transaction_id", pa.int64(), nullable=False),
        pa.field("is_fraud", pa.bool_(), nullable=False),
        pa.field("fraud_scenario", pa.string(), nullable=False),
        pa.field("reported_at", TS, nullable=False),
    ]
)

#: External fraud-intelligence feed: terminals reported compromised, with a delay.
FRAUD_INTEL = pa.schema(
    [
        pa.field("terminal_id", pa.int64(), nullable=False),
        pa.field("compromised_from", TS, nullable=False),
        pa.field("reported_at", TS, nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)

#: One row per scoring decision, as the online scorer publishes it on Kafka ``decisions``
#: and the stream sink lands it in ``audit.decisions``. What an auditor needs to explain a
#: decision is required (decision, the model's name, when it was decided); the
#: transaction's details are optional because a scorer may decide on a partial request.
#: ``decision`` is one of ``approve``, ``review``, ``decline``. ``score`` and
#: ``model_version`` are null only for a ``degraded`` decision made by the fallback rules
#: (``model_name`` ``fallback-rules``, ``degraded_reason`` says why). ``reasons`` is a JSON
#: list of the top reasons, most important first; ``features`` a JSON object of the
#: feature vector the model saw; ``shadow`` the challenger's JSON score when it shadowed.
DECISIONS = pa.schema(
    [
        pa.field("transaction_id", pa.int64(), nullable=False),
        pa.field("event_ts", TS, nullable=True),
        pa.field("customer_id", pa.int64(), nullable=True),
        pa.field("card_id", pa.string(), nullable=True),
        pa.field("terminal_id", pa.int64(), nullable=True),
        pa.field("amount", pa.float64(), nullable=True),
        pa.field("score", pa.float64(), nullable=True),
        pa.field("decision", pa.string(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=True),
        pa.field("model_alias", pa.string(), nullable=True),
        pa.field("reasons", pa.string(), nullable=True),
        pa.field("degraded", pa.bool_(), nullable=True),
        pa.field("degraded_reason", pa.string(), nullable=True),
        pa.field("features", pa.string(), nullable=True),
        pa.field("shadow", pa.string(), nullable=True),
        pa.field("latency_ms", pa.float64(), nullable=True),
        pa.field("decided_at", TS, nullable=False),
    ]
)

#: One row per auditor action (``fraudlake audit ...``): what was done, to what, by whom,
#: from which run, when, and its outcome as JSON (e.g. the rows an erasure deleted). An
#: erased customer appears only as the pseudonym of their id, never the id itself.
AUDIT_ACTIONS = pa.schema(
    [
        pa.field("action_id", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("target", pa.string(), nullable=False),
        pa.field("actor", pa.string(), nullable=False),
        pa.field("run", pa.string(), nullable=False),
        pa.field("at", TS, nullable=False),
        pa.field("details", pa.string(), nullable=False),
    ]
)

#: Raw batch kinds and their schemas, keyed by the folder name under ``data/raw``.
RAW_BATCHES: dict[str, pa.Schema] = {
    "transactions": RAW_TRANSACTIONS,
    "customers": CUSTOMERS,
    "labels": LABELS,
    "fraud_intel": FRAUD_INTEL,
}

#: The timestamp column that decides which day a batch row belongs to.
BATCH_DAY_COLUMN: dict[str, str] = {
    "transactions": "event_ts",
    "labels": "reported_at",
    "fraud_intel": "reported_at",
}
