"""The models a scoring replica holds: the champion, and the challenger when one exists.

:class:`ModelSlots.refresh` asks the registry where the aliases point and loads only what
moved. A new model is loaded and warmed up (a predict and a contributions call, so the
first real request pays no lazy initialisation) *before* it replaces the old one in one
reference assignment: a request in flight keeps the model it started with, the next one
gets the new model, and no request ever sees a half-loaded one. With the ``compiled``
predictor, a LightGBM version is also compiled to machine code
(:mod:`~fraudlake.serving.compiled_predictor`) before the swap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import lightgbm as lgb
import numpy as np
import xgboost as xgb

from fraudlake.serving.compiled_predictor import Predict, compile_predictor, probe_rows
from fraudlake.training.models import ModelFamily, NativeModel, family_of, feature_names

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"

#: How a replica computes scores: the booster itself, or (LightGBM) its compiled forest.
PredictorKind = Literal["native", "compiled"]


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
    #: The booster compiled to machine code (scores only; reasons stay native).
    compiled: Predict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, name: str, version: int, alias: str, booster: NativeModel) -> LoadedModel:
        loaded = cls(name, version, alias, booster, feature_names(booster), family_of(booster))
        loaded.warm_up()
        return loaded

    @property
    def predictor(self) -> PredictorKind:
        return "native" if self.compiled is None else "compiled"

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fraud scores of the rows of ``x`` (1-D float64). Numpy in, no DataFrame: the
        per-call overhead matters for one-row requests."""
        if self.compiled is not None:
            return self.compiled(x)
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

    def __init__(
        self,
        source: ModelSource,
        served: Sequence[str] | None = None,
        compiled_dir: Path | None = None,
        predictor: PredictorKind = "native",
    ) -> None:
        self.source = source
        #: Feature names the replica can compute (None: any); a version needing others
        #: is refused and the current model kept.
        self.served = None if served is None else frozenset(served)
        #: Where compiled forests are cached (shared by the replicas of a machine).
        self.compiled_dir = compiled_dir
        #: The predictor of models loaded from now on (:meth:`use_predictor` for the
        #: loaded ones).
        self.predictor: PredictorKind = predictor
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
                if loaded is not None:  # compiled (if asked) only once it is servable
                    loaded = self._prepared(loaded)
                setattr(self, alias, loaded)
                before = current.version if current else None
                changes.append(f"{alias} {before} -> {version}")
                log.info("model %s: %s %s -> %s", self.source.name, alias, before, version)
            if refused:
                raise UnservableModelError("; ".join(refused))
            return changes

    def use_predictor(self, kind: PredictorKind) -> list[str]:
        """Serve ``kind`` from now on, the loaded models included (each compiled, or
        back to native, before it replaces itself); returns what changed."""
        with self._refreshing:
            self.predictor = kind
            changes: list[str] = []
            for alias in (CHAMPION, CHALLENGER):
                current: LoadedModel | None = getattr(self, alias)
                if current is None:
                    continue
                ready = self._prepared(current)
                if ready is not current:
                    setattr(self, alias, ready)
                    changes.append(f"{alias} {current.version}: {ready.predictor} predictor")
            return changes

    def _prepared(self, model: LoadedModel) -> LoadedModel:
        """``model`` with the predictor these slots serve. A model that cannot be
        compiled (an XGBoost one, a compiler error) is served natively, and says so."""
        if self.predictor == "native" or self.compiled_dir is None:
            return model if model.compiled is None else dataclasses.replace(model, compiled=None)
        if model.compiled is not None:
            return model
        if not isinstance(model.booster, lgb.Booster):
            log.info(
                "model %s version %s is %s: served natively",
                model.name,
                model.version,
                model.family,
            )
            return model
        started = time.perf_counter()
        try:
            compiled = compile_predictor(
                model.booster, self.compiled_dir, probe_rows(len(model.features))
            )
        except Exception:
            log.exception(
                "could not compile model %s version %s; serving it natively",
                model.name,
                model.version,
            )
            return model
        log.info(
            "model %s version %s: compiled predictor ready in %.1f s (cache %s)",
            model.name,
            model.version,
            time.perf_counter() - started,
            self.compiled_dir,
        )
        ready = dataclasses.replace(model, compiled=compiled)
        ready.warm_up()
        return ready
