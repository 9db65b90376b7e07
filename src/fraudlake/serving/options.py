"""How the scoring service behaves: the Ray Serve ``user_config`` of the deployment
(``ray_serve/serve_config.yaml``), so a change is applied to running replicas in place
(``fraudlake serve reload``) without a restart.

Where it reads and writes (Redis, Kafka, MLflow, the API tokens) is not here but in
:class:`~fraudlake.serving.settings.ServingSettings` (environment), and the decision
thresholds and the registered model's name come from ``params.yaml`` (the ones
training uses).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FallbackRules(BaseModel):
    """The degraded path: when the online store cannot be read (or has no profile of the
    customer), decide on the payload alone. Amounts in the service's currency; night is
    00:00-06:00 UTC, as the ``is_night`` feature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_amount: float = Field(220.0, gt=0, description="amount >= this: review")
    decline_amount: float = Field(1000.0, gt=0, description="amount >= this: decline")
    night_review_amount: float = Field(100.0, gt=0, description="at night, >= this: review")

    @model_validator(mode="after")
    def _ordered(self) -> FallbackRules:
        if self.decline_amount < self.review_amount:
            raise ValueError("fallback.decline_amount must be >= fallback.review_amount")
        return self


class ServingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currencies: tuple[str, ...] = Field(
        ("EUR",), min_length=1, description="currencies the models were trained on"
    )
    max_batch: int = Field(1024, ge=1, le=100_000, description="transactions per batch call")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="request body cap")
    reasons_for: Literal["flagged", "all", "none"] = Field(
        "flagged",
        description="whose top reasons to compute: review/decline only (they cost ~25x a "
        "predict), every transaction, or none (explain=true still asks per request)",
    )
    top_reasons: int = Field(3, ge=1, le=20)
    predictor: Literal["native", "compiled"] = Field(
        "native",
        description="compiled: LightGBM models compiled to machine code by lleaves before "
        "they are served (predict 3-5x faster, the same scores; seconds of compiling per "
        "new version, once per machine: cached in FRAUDLAKE_COMPILED_MODELS_DIR); XGBoost "
        "models and reasons stay native",
    )
    poll_interval_s: float = Field(10.0, gt=0, description="how often to look for a new champion")
    shadow_share: float = Field(
        0.0, ge=0, le=1, description="share of transactions the challenger also scores (logged)"
    )
    canary_share: float = Field(
        0.0, ge=0, le=1, description="share answered by the challenger instead of the champion"
    )
    decisions_topic: str = "decisions"
    publish_queue: int = Field(100_000, ge=1, description="decisions waiting for Kafka, at most")
    batch_max_size: int = Field(256, ge=1, description="single requests scored together")
    batch_wait_ms: float = Field(
        0.0,
        ge=0,
        description="how long a batch waits to fill; 0: take what queued while the last "
        "batch was scored (batches grow with load, an idle replica answers at once)",
    )
    fallback: FallbackRules = FallbackRules()
    reload: str = Field(
        "",
        description="any new value makes every replica look up the model aliases at once "
        "(`fraudlake serve reload` sets it to the current time)",
    )
