"""Typed view of ``params.yaml``: the pipeline parameters every stage reads.

Unknown keys are rejected so that a typo in ``params.yaml`` fails loudly instead of being
silently ignored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HighAmountScenario(_Strict):
    enabled: bool = True
    threshold: float = Field(220.0, gt=0)


class CompromisedTerminalsScenario(_Strict):
    enabled: bool = True
    per_day: int = Field(2, ge=0)
    duration_days: int = Field(28, ge=1)


class CompromisedCardsScenario(_Strict):
    enabled: bool = True
    per_day: int = Field(3, ge=0)
    duration_days: int = Field(14, ge=1)
    share: float = Field(1 / 3, gt=0, le=1)
    amount_factor: float = Field(5.0, gt=0)


class CardTestingScenario(_Strict):
    enabled: bool = True
    bursts_per_day: int = Field(4, ge=0)
    min_tx: int = Field(8, ge=1)
    max_tx: int = Field(20, ge=1)
    max_amount: float = Field(5.0, gt=0)
    span_minutes: int = Field(10, ge=1)


class Scenarios(_Strict):
    high_amount: HighAmountScenario = HighAmountScenario()
    compromised_terminals: CompromisedTerminalsScenario = CompromisedTerminalsScenario()
    compromised_cards: CompromisedCardsScenario = CompromisedCardsScenario()
    card_testing: CardTestingScenario = CardTestingScenario()


class LabelDelay(_Strict):
    delay_days_min: int = Field(1, ge=0)
    delay_days_max: int = Field(10, ge=0)


class FraudIntel(_Strict):
    report_delay_days: int = Field(3, ge=0)
    coverage: float = Field(0.5, ge=0, le=1)


class Drift(_Strict):
    enabled: bool = False
    start_day: int = Field(42, ge=0)
    amount_shift: float = Field(1.6, gt=0)
    tx_rate_shift: float = Field(1.3, gt=0)
    new_pattern_per_day: int = Field(20, ge=0)


class SimulateParams(_Strict):
    profile: Literal["default", "handbook"] = "default"
    seed: int = 42
    start_date: dt.date = dt.date(2024, 1, 1)
    days: int = Field(56, ge=1)
    n_customers: int = Field(3000, ge=1)
    n_terminals: int = Field(6000, ge=1)
    grid_size: float = Field(100.0, gt=0)
    terminal_radius: float = Field(5.0, gt=0)
    max_cards_per_customer: int = Field(2, ge=1)
    currency: str = Field("EUR", min_length=3, max_length=3)
    scenarios: Scenarios = Scenarios()
    labels: LabelDelay = LabelDelay()
    fraud_intel: FraudIntel = FraudIntel()
    drift: Drift = Drift()


class FeatureParams(_Strict):
    defs_dir: Path = Path("feature_defs")


class LightGBMParams(_Strict):
    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(50, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    max_bin: int = Field(255, ge=2)


class XGBoostParams(_Strict):
    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    max_depth: int = Field(6, ge=1)
    min_child_weight: float = Field(5, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    max_bin: int = Field(256, ge=2)


class ModelParams(_Strict):
    lightgbm: LightGBMParams = LightGBMParams()
    xgboost: XGBoostParams = XGBoostParams()


class TrainParams(_Strict):
    train_days: int = Field(28, ge=1)
    gap_days: int = Field(7, ge=0)
    test_days: int = Field(7, ge=1)
    # Relative mode: end the test window this many days before the last day, so that the
    # test period's investigations have come back (its labels are mostly known).
    label_maturity_days: int = Field(0, ge=0)
    train_start: dt.date | None = None
    test_start: dt.date | None = None
    seed: int = 7
    # Imbalance: positives weighted by genuine/fraud ("balanced"), its square root ("sqrt",
    # measured best on the handbook protocol: ranking metrics suffer from full weighting)
    # or not at all ("none").
    imbalance: Literal["balanced", "sqrt", "none"] = "sqrt"
    models: ModelParams = ModelParams()

    @model_validator(mode="after")
    def _dates_together(self) -> TrainParams:
        if (self.train_start is None) != (self.test_start is None):
            raise ValueError("set both train.train_start and train.test_start, or neither")
        if self.train_start and self.test_start and self.test_start <= self.train_start:
            raise ValueError("train.test_start must come after train.train_start")
        return self


class DecisionParams(_Strict):
    review_threshold: float = Field(0.5, ge=0, le=1)
    decline_threshold: float = Field(0.9, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> DecisionParams:
        if self.decline_threshold < self.review_threshold:
            raise ValueError("decision.decline_threshold must be >= decision.review_threshold")
        return self


class RegistryParams(_Strict):
    model_name: str = "fraud-detector"
    promotion_margins: dict[str, float] = Field(
        default_factory=lambda: {"average_precision": 0.005, "roc_auc": 0.0}
    )


class DriftParams(_Strict):
    reference_days: int = Field(14, ge=1)
    current_days: int = Field(7, ge=1)
    investigate_share: float = Field(0.15, ge=0, le=1)
    retrain_share: float = Field(0.25, ge=0, le=1)
    max_rows: int = Field(50_000, ge=1)  # rows per side sampled into the Evidently reports
    # Delayed-label performance (monitoring): absolute drop of the champion's average
    # precision on matured labels below its hold-out value that asks for a look / a retrain.
    performance_drop_investigate: float = Field(0.05, ge=0, le=1)
    performance_drop_retrain: float = Field(0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> DriftParams:
        if self.investigate_share > self.retrain_share:
            raise ValueError("drift.investigate_share must be <= drift.retrain_share")
        if self.performance_drop_investigate > self.performance_drop_retrain:
            raise ValueError(
                "drift.performance_drop_investigate must be <= drift.performance_drop_retrain"
            )
        return self


class Params(_Strict):
    simulate: SimulateParams = SimulateParams()
    features: FeatureParams = FeatureParams()
    train: TrainParams = TrainParams()
    decision: DecisionParams = DecisionParams()
    registry: RegistryParams = RegistryParams()
    drift: DriftParams = DriftParams()


class ParamsError(ValueError):
    """``params.yaml`` is missing or invalid; the message says which key and why."""


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; raise :class:`ParamsError` naming the bad key."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path} not found: run from the project root or pass --params")
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ParamsError(f"{path} is invalid: {problems}") from exc
