"""What the scoring API takes and returns (pydantic models, published as its OpenAPI).

A transaction carries either the card number (the payment gateway's view; the service
pseudonymises it with the lake's HMAC key, exactly as ingestion and ``fraudlake replay``
do, so the online store's keys match) or the already pseudonymised ``card_id`` — never
both. Limits that depend on configuration (accepted currencies, the batch size) are
checked by the service against its options and answered in the same 422 shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fraudlake.serving.decision import Decision
from fraudlake.validation.rules import DEFAULT_MAX_AMOUNT

#: Event times the online store and the lake can hold (microseconds since the epoch).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


class TransactionIn(BaseModel):
    """One card transaction to score, as the payment gateway sends it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": 1_000_123,
                    "event_ts": "2024-02-25T14:03:11.250000Z",
                    "customer_id": 42,
                    "card_number": "4000123412341234",
                    "terminal_id": 977,
                    "terminal_x": 41.7,
                    "terminal_y": 12.3,
                    "merchant_category": "grocery",
                    "amount": 57.3,
                    "currency": "EUR",
                }
            ]
        },
    )

    transaction_id: int = Field(ge=0, le=2**63 - 1, description="unique id of the transaction")
    event_ts: dt.datetime = Field(description="when it happened, ISO 8601 with a time zone")
    customer_id: int = Field(ge=0, le=2**63 - 1)
    card_number: str | None = Field(
        None, pattern=r"^[0-9]{12,19}$", description="PAN, 12-19 digits (or give card_id)"
    )
    card_id: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="the pseudonymised card (HMAC, 32 hex digits), instead of card_number",
    )
    terminal_id: int = Field(ge=0, le=2**63 - 1)
    terminal_x: float = Field(allow_inf_nan=False, description="terminal location on the grid")
    terminal_y: float = Field(allow_inf_nan=False)
    merchant_category: str = Field("", max_length=64)
    # [0, cap) as the lake's validation takes them: a zero amount is a card check
    # (account verification), which card testers use too — scored, not refused.
    amount: float = Field(
        ge=0, lt=DEFAULT_MAX_AMOUNT, allow_inf_nan=False, description="in `currency`"
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    @field_validator("event_ts")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone (append Z for UTC)")
        try:
            utc = value.astimezone(dt.UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+00:01 is before year 1 in UTC
            raise ValueError(f"must lie in [{EARLIEST:%Y}, {LATEST:%Y}) UTC") from exc
        if not EARLIEST <= utc < LATEST:
            raise ValueError(f"must lie in [{EARLIEST:%Y}, {LATEST:%Y}) UTC")
        return utc

    @model_validator(mode="after")
    def _one_card(self) -> TransactionIn:
        if (self.card_number is None) == (self.card_id is None):
            raise ValueError("give exactly one of card_number or card_id")
        return self


class ScoreRequest(TransactionIn):
    """``POST /v1/score``: a transaction, and whether to explain every decision."""

    explain: bool = Field(
        False, description="top reasons even for an approval (always given for review/decline)"
    )


class BatchRequest(BaseModel):
    """``POST /v1/score/batch``: up to the configured maximum of transactions."""

    model_config = ConfigDict(extra="forbid")

    transactions: list[TransactionIn] = Field(min_length=1)
    explain: bool = False


class ReasonOut(BaseModel):
    feature: str
    value: float
    #: Log-odds pushed towards fraud by this feature (model reasons), or None for a rule.
    contribution: float | None = None


class ModelRef(BaseModel):
    name: str
    version: int | None = Field(description="registry version; None when rules decided")
    alias: str | None = Field(description="champion or challenger (canary); None for rules")


class ScoreResponse(BaseModel):
    transaction_id: int
    score: float | None = Field(description="fraud score in [0, 1]; None when rules decided")
    decision: Decision
    model: ModelRef
    reasons: list[ReasonOut]
    degraded: bool = Field(description="true when scored without online features")
    degraded_reason: str | None = None


class BatchResponse(BaseModel):
    results: list[ScoreResponse]


class ModelInfo(BaseModel):
    name: str
    version: int | None
    alias: str
    family: str | None
    predictor: Literal["native", "compiled"] | None
    features: list[str]
    loaded_at: dt.datetime | None
    challenger_version: int | None
    shadow_share: float
    canary_share: float


class Health(BaseModel):
    status: Literal["ok", "no-model"]
    model_version: int | None
    online_store: Literal["up", "down"]
