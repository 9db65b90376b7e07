"""The models a scoring replica holds: the champion, and the challenger when one exists.

:class:`ModelSlots.refresh` asks the registry where the aliases point and loads only what
moved. A new model is loaded and warmed up (a predict and a contributions call, so the
first real request pays no lazy initialisation) *before* it replaces the old one in one
reference assignment: a request in flight keeps the model it started with, the next one
gets the new model, and no request ever sees a half-loaded one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import lightgbm as lgb
import numpy as np
import xgboost as xgb

from fraudlake.training.models import ModelFamily, NativeModel, family_of, feature_names

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


class ModelSource(Protocol):
    """What the slots need of a registry (:class:`~fraudlake.training.registry.Registry`
    has it)."""

    @property
    def name(self) -> str: ...

    def aliases(self) -> dict[str, int]: ...

    def load(self, ref: int | str) -> NativeModel: ...


@dataclass(frozen=True)
class LoadedModel:
    """One registry version in memory, ready to score a float64 matrix whose columns are
    :attr:`features`, in that order."""

    name: str
    version: int
    alias: str
    booster: NativeModel
    features: list[str]
    family: ModelFamily
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def of(cls, name: str, version: int, alias: str, booster: NativeModel) -> LoadedModel:
        loaded = cls(name, version, alias, booster, feature_names(booster), family_of(booster))
        loaded.warm_up()
        return loaded

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fraud scores of the rows of ``x`` (1-D float64). Numpy in, no DataFrame: the
        per-call overhead matters for one-row requests."""
        if isinstance(self.booster, lgb.Booster):
            out = self.booster.predict(x, num_threads=1)
        else:
            out = self.booster.inplace_predict(x)
        return np.asarray(out, dtype="float64").ravel()

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contributions (log-odds) of the rows of ``x``, bias last."""
        if isinstance(self.booster, lgb.Booster):
            out = self.booster.predict(x, pred_contrib=True, num_threads=1)
        elif isinstance(self.booster, xgb.Booster):
            out = self.booster.predict(
                xgb.DMatrix(x, feature_names=self.features), pred_contribs=True
            )
        else:  # pragma: no cover - family_of refused it already
            raise TypeError(type(self.booster).__name__)
        return np.asarray(out, dtype="float64").reshape(len(x), len(self.features) + 1)

    def warm_up(self) -> None:
        row = np.zeros((1, len(self.features)))
        self.predict(row)
        self.contributions(row)


class NoChampionError(RuntimeError):
    """The registry has no champion yet; the message says how to get one."""


class UnservableModelError(RuntimeError):
    """A registered version needs features the replica cannot compute."""


class ModelSlots:
    """The champion and challenger of ``source``'s registered model, kept current by
    :meth:`refresh` (call it from one thread at a time; reads are lock-free)."""

    def __init__(self, source: ModelSource, served: Sequence[str] | None = None) -> None:
        self.source = source
        #: Feature names the replica can compute (None: any); a version needing others
        #: is refused and the current model kept.
        self.served = None if served is None else frozenset(served)
        self.champion: LoadedModel | None = None
        self.challenger: LoadedModel | None = None
        self._refreshing = threading.Lock()

    @property
    def distinct_challenger(self) -> LoadedModel | None:
        """The challenger, unless it is the champion's version (a promoted challenger
        keeps its alias until the next one is registered): nothing to compare then."""
        challenger, champion = self.challenger, self.champion
        if challenger is None or (champion is not None and challenger.version == champion.version):
            return None
        return challenger

    def require_champion(self) -> LoadedModel:
        champion = self.champion
        if champion is None:
            raise NoChampionError(
                f"no champion of model {self.source.name!r} is loaded; train and promote one "
                "(`dvc repro` or the fraud_batch_pipeline DAG), then wait for the next poll "
                "or run `fraudlake serve reload`"
            )
        return champion

    def refresh(self) -> list[str]:
        """Load whatever alias moved since the last call; returns what changed, e.g.
        ``["champion 3 -> 4"]``. A failed load leaves the current model in place and
        raises; so does a version that needs features this replica does not serve
        (:class:`UnservableModelError`)."""
        with self._refreshing:
            changes: list[str] = []
            refused: list[str] = []
            aliases = self.source.aliases()
            for alias in (CHAMPION, CHALLENGER):
                current = getattr(self, alias)
                version = aliases.get(alias)
                if version == (current.version if current else None):
                    continue
                loaded = (
                    None
                    if version is None
                    else LoadedModel.of(self.source.name, version, alias, self.source.load(version))
                )
                if loaded is not None and self.served is not None:
                    missing = [f for f in loaded.features if f not in self.served]
                    if missing:
                        refused.append(
                            f"{self.source.name} version {version} ({alias}) needs features "
                            f"the online store does not serve: {', '.join(missing)}; keeping "
                            f"version {current.version if current else None}. Retrain on the "
                            "current feature_defs/ or deploy the definitions it was trained on"
                        )
                        continue
                setattr(self, alias, loaded)
                before = current.version if current else None
                changes.append(f"{alias} {before} -> {version}")
                log.info("model %s: %s %s -> %s", self.source.name, alias, before, version)
            if refused:
                raise UnservableModelError("; ".join(refused))
            return changes
