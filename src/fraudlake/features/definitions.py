"""Feature definitions: the one description of every feature, read from ``feature_defs/``.

The batch engine, the reference implementation, the streaming job and the online scorer
all derive their feature names and semantics from these models, so they cannot disagree
about what a feature is called or what window it covers.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

_WINDOW_RE = re.compile(r"^(\d+)(m|h|d)$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}

#: Entity name → the transaction columns that identify it.
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "card": ("card_id",),
    "terminal": ("terminal_id",),
    "customer": ("customer_id",),
    "customer_terminal": ("customer_id", "terminal_id"),
}

REQUEST_FEATURES = (
    "amount",
    "hour_of_day",
    "is_night",
    "is_weekend",
    "distance_from_home",
    "amount_vs_customer_mean",
    "amount_zscore",
)


def window_seconds(window: str) -> int:
    """Length of a window written like ``10m``, ``1h`` or ``7d``, in seconds."""
    match = _WINDOW_RE.match(window)
    if not match:
        raise ValueError(f"window {window!r} must look like 10m, 1h or 7d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def window_delta(window: str) -> dt.timedelta:
    return dt.timedelta(seconds=window_seconds(window))


class _Def(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    group: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


class _Windowed(_Def):
    entity: Literal["card", "terminal", "customer", "customer_terminal"]
    keys: tuple[str, ...]
    windows: tuple[str, ...] = Field(min_length=1)

    @field_validator("windows")
    @classmethod
    def _valid_windows(cls, windows: tuple[str, ...]) -> tuple[str, ...]:
        for w in windows:
            window_seconds(w)
        return windows

    def model_post_init(self, _context: object) -> None:
        if tuple(self.keys) != ENTITY_KEYS[self.entity]:
            raise ValueError(
                f"{self.group}: entity {self.entity} is keyed by {list(ENTITY_KEYS[self.entity])},"
                f" not {list(self.keys)}"
            )

    def feature_name(self, aggregation: str, window: str) -> str:
        return f"{self.entity}_{aggregation}_{window}"


class WindowDef(_Windowed):
    """Aggregates of the entity's strictly earlier transactions in ``[t - W, t)``.

    ``count`` and ``sum`` of ``value``; ``mean`` is sum / count (0 for an empty window);
    ``first`` is 1.0 when the window is empty (e.g. the first visit to a terminal).
    """

    kind: Literal["window"]
    value: Literal["amount"] = "amount"
    aggregations: tuple[Literal["count", "sum", "mean", "first"], ...] = Field(min_length=1)

    @property
    def names(self) -> list[str]:
        return [self.feature_name(a, w) for w in self.windows for a in self.aggregations]


class LabelWindowDef(_Windowed):
    """Fraud labels of the entity's transactions in ``[t - D - W, t - D)`` reported before
    ``t``, where ``D`` is ``delay`` (default ``0m``: the window ends at ``t``).

    ``fraud_count`` counts those transactions whose fraud label has ``reported_at < t``;
    ``fraud_rate`` divides it by the number of transactions in the window (0 if none).
    A delay near the investigation time keeps the window to transactions whose outcome
    is mostly known already, so the rate is not diluted by unlabelled recent traffic
    (the Fraud Detection Handbook's "delay period"). Names end in ``_lag<D>`` when D > 0.
    """

    kind: Literal["label_window"]
    delay: str = "0m"
    aggregations: tuple[Literal["fraud_count", "fraud_rate"], ...] = Field(min_length=1)

    @field_validator("delay")
    @classmethod
    def _valid_delay(cls, delay: str) -> str:
        window_seconds(delay)
        return delay

    @property
    def delay_seconds(self) -> int:
        return window_seconds(self.delay)

    def feature_name(self, aggregation: str, window: str) -> str:
        base = f"{self.entity}_{aggregation}_{window}"
        return f"{base}_lag{self.delay}" if self.delay_seconds else base

    def alias(self, window: str) -> str:
        """Column prefix of this window's raw aggregates inside the batch engine."""
        return f"{self.entity}__{window}__lag{self.delay_seconds}"

    @property
    def names(self) -> list[str]:
        return [self.feature_name(a, w) for w in self.windows for a in self.aggregations]


class RequestDef(_Def):
    """Features of the transaction and the customer profile alone (no history)."""

    kind: Literal["request"]
    features: tuple[str, ...] = Field(min_length=1)

    @field_validator("features")
    @classmethod
    def _known(cls, features: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(features) - set(REQUEST_FEATURES))
        if unknown:
            raise ValueError(f"unknown request features {unknown}; known: {REQUEST_FEATURES}")
        return features

    @property
    def names(self) -> list[str]:
        return list(self.features)


FeatureDef = Annotated[WindowDef | LabelWindowDef | RequestDef, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[WindowDef | LabelWindowDef | RequestDef] = TypeAdapter(FeatureDef)


class FeatureSet(BaseModel):
    """All feature definitions of a folder, in a stable order (by file name)."""

    model_config = ConfigDict(frozen=True)
    defs: tuple[WindowDef | LabelWindowDef | RequestDef, ...]

    @property
    def windows(self) -> list[WindowDef]:
        return [d for d in self.defs if isinstance(d, WindowDef)]

    @property
    def label_windows(self) -> list[LabelWindowDef]:
        return [d for d in self.defs if isinstance(d, LabelWindowDef)]

    @property
    def request(self) -> list[str]:
        return [f for d in self.defs if isinstance(d, RequestDef) for f in d.features]

    @property
    def names(self) -> list[str]:
        """Every feature column, in the order models see them."""
        return [n for d in self.defs for n in d.names]


class FeatureDefError(ValueError):
    """A feature definition file is invalid; the message names the file and the key."""


def load_feature_set(folder: Path | str = "feature_defs") -> FeatureSet:
    """Load every ``*.yaml`` of ``folder``; raise :class:`FeatureDefError` on a bad file."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise FeatureDefError(f"no feature definitions (*.yaml) in {folder}")
    defs = []
    for path in files:
        try:
            defs.append(_ADAPTER.validate_python(yaml.safe_load(path.read_text())))
        except (ValidationError, ValueError) as exc:
            raise FeatureDefError(f"{path}: {exc}") from exc
    names = [n for d in defs for n in d.names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FeatureDefError(f"{folder}: features defined twice: {duplicates}")
    return FeatureSet(defs=tuple(defs))
