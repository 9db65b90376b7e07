"""The model registry: one registered model, aliases ``champion`` and ``challenger``.

- :meth:`Registry.register_best` registers the best candidate of a training run (by test
  average precision) as a new version and points ``challenger`` at it;
- :meth:`Registry.gate` scores challenger and champion on the *same* test frame and
  promotes the challenger only when it beats the champion by the margins of
  ``RegistryParams.promotion_margins`` on every listed metric (the first challenger of a
  model without champion becomes champion);
- :meth:`Registry.promote` moves ``champion`` to a version (the gate uses it; so can a
  person, with a reason);
- :meth:`Registry.rollback` moves ``champion`` back to the version that held it before,
  as recorded in the alias log (repeated rollbacks walk further back).

Every alias move is appended to an :class:`~fraudlake.training.alias_log.AliasLog`; if
that append fails the alias is moved back and the error raised, so the registry never
changes without a record. Versions also carry tags: ``fraudlake.*`` (family, run,
selection), the run's ``lineage.*`` tags, ``gate.*`` (the latest gate decision on that
version) and ``rollback.*``.

Promotion rule (:func:`promotion_verdict`): for every metric ``m`` with margin ``d``,
``challenger[m] - champion[m] >= d`` (margins are absolute; ``0`` means "no worse",
a negative margin tolerates a small loss), and the challenger must be strictly better on
at least one listed metric — so an equal model is never promoted.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict, Field

from fraudlake.lake.snapshot_properties import os_user
from fraudlake.params import DecisionParams, RegistryParams
from fraudlake.training.alias_log import AliasAction, AliasChange, AliasLog, utc_now
from fraudlake.training.metrics import evaluate
from fraudlake.training.models import NativeModel, predict_proba
from fraudlake.training.tracking import LINEAGE_PREFIX, load_native_model, use_mlflow
from fraudlake.training.train import CandidateResult, prediction_frame

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
SELECTION_METRIC = "average_precision"
#: Absolute tolerance of metric comparisons (float noise, not a margin).
TOLERANCE = 1e-12
_TAG_VALUE_MAX = 5000


class RegistryError(RuntimeError):
    """A registry operation cannot proceed; the message says why and what to do."""


class GateDecision(BaseModel):
    """Outcome of :meth:`Registry.gate`. ``champion_version`` / ``champion_metrics`` are
    the champion *before* the gate (``None`` when there was none); both metric sets come
    from the same test frame."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    model_name: str
    promoted: bool
    reason: str
    challenger_version: int
    champion_version: int | None
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    margins: dict[str, float]
    decided_at: dt.datetime = Field(default_factory=utc_now)


@dataclass(frozen=True)
class RegisteredVersion:
    """A candidate registered by :meth:`Registry.register_best`."""

    model_name: str
    version: int
    family: str
    run_id: str
    model_uri: str
    metrics: dict[str, float]


def select_best(
    results: Sequence[CandidateResult], metric: str = SELECTION_METRIC
) -> CandidateResult:
    """The candidate with the highest ``metric`` (NaN counts as lowest; ties keep the
    earlier candidate). Raises ``ValueError`` for no candidates or an unknown metric."""
    if not results:
        raise ValueError("no candidates to choose from")
    for r in results:
        if metric not in r.metrics:
            raise ValueError(f"candidate {r.family} has no metric {metric!r}")

    def key(r: CandidateResult) -> float:
        value = r.metrics[metric]
        return value if math.isfinite(value) else -math.inf

    best = results[0]
    for r in results[1:]:
        if key(r) > key(best):
            best = r
    return best


def promotion_verdict(
    challenger: Mapping[str, float], champion: Mapping[str, float], margins: Mapping[str, float]
) -> tuple[bool, str]:
    """Whether ``challenger`` beats ``champion`` by ``margins`` (see the module docstring),
    with a reason listing every compared metric. A metric that is NaN on either side fails.
    Raises ``ValueError`` for no margins or a metric missing from either set."""
    if not margins:
        raise ValueError(
            "no promotion margins: list at least one metric in registry.promotion_margins"
        )
    passed: list[str] = []
    failed: list[str] = []
    improved = False
    for metric, margin in margins.items():
        if metric not in challenger or metric not in champion:
            raise ValueError(
                f"promotion metric {metric!r} is not computed; "
                f"known: {', '.join(sorted(challenger))}"
            )
        new, old = float(challenger[metric]), float(champion[metric])
        if not (math.isfinite(new) and math.isfinite(old)):
            failed.append(f"{metric} undefined (challenger {new}, champion {old})")
            continue
        delta = new - old
        text = f"{metric} {new:.4f} vs {old:.4f} ({delta:+.4f}, margin {margin:g})"
        (failed if delta + TOLERANCE < margin else passed).append(text)
        improved = improved or delta > TOLERANCE
    if failed:
        return False, "not better by the margins: " + "; ".join(failed + passed)
    if not improved:
        return False, "no better than the champion on any metric: " + "; ".join(passed)
    return True, "beats the champion by the margins: " + "; ".join(passed)


def champion_history(entries: Iterable[AliasChange], model_name: str) -> list[int]:
    """Versions that successively held ``champion``, as a stack replayed from the alias log:
    ``promote`` pushes, ``rollback`` pops (so the last element is the current champion and
    the one before it the rollback target)."""
    stack: list[int] = []
    for e in entries:
        if e.model_name != model_name or e.alias != CHAMPION or e.to_version is None:
            continue
        if e.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != e.to_version:
                stack.append(e.to_version)
        else:
            stack.append(e.to_version)
    return stack


def _tag_value(value: object) -> str:
    text = str(value)
    return text if len(text) <= _TAG_VALUE_MAX else text[: _TAG_VALUE_MAX - 1] + "…"


class Registry:
    """Registered model ``params.model_name`` in the MLflow store at ``tracking_uri``, with
    every alias change recorded in ``alias_log`` under ``actor`` (default: the OS user).

    Sets MLflow's process-wide URI to ``tracking_uri`` (loading models by ``models:/`` URI
    reads it)."""

    def __init__(
        self,
        tracking_uri: str,
        params: RegistryParams,
        alias_log: AliasLog,
        *,
        actor: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.params = params
        self.alias_log = alias_log
        self.actor = actor or os_user()
        self._client: MlflowClient = use_mlflow(tracking_uri)

    @property
    def client(self) -> MlflowClient:
        """The MLflow client of the registry's store."""
        return self._client

    @property
    def name(self) -> str:
        """The registered model's name."""
        return self.params.model_name

    # -- reading -------------------------------------------------------------------------

    def aliases(self) -> dict[str, int]:
        """Every alias of the registered model and the version it points at, in one
        registry call (empty when the model is not registered yet)."""
        try:
            aliases = self._client.get_registered_model(self.name).aliases
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise
        return {alias: int(version) for alias, version in aliases.items()}

    def version_of(self, alias: str) -> int | None:
        """Version ``alias`` points at, or ``None`` (no such alias or no such model)."""
        return self.aliases().get(alias)

    def champion_version(self) -> int | None:
        """The current champion version, if any."""
        return self.version_of(CHAMPION)

    def challenger_version(self) -> int | None:
        """The current challenger version, if any."""
        return self.version_of(CHALLENGER)

    def model_uri(self, ref: int | str) -> str:
        """``models:/<name>/<version>`` for an int, ``models:/<name>@<alias>`` for a str."""
        return (
            f"models:/{self.name}/{ref}" if isinstance(ref, int) else f"models:/{self.name}@{ref}"
        )

    def load(self, ref: int | str) -> NativeModel:
        """The native booster of a version (int) or alias (str)."""
        use_mlflow(self.tracking_uri)
        return load_native_model(self.model_uri(ref))

    def score(
        self,
        ref: int | str,
        test_frame: pd.DataFrame,
        decision: DecisionParams,
        *,
        top_k: int = 100,
    ) -> dict[str, float]:
        """:func:`~fraudlake.training.metrics.evaluate` of version/alias ``ref`` on
        ``test_frame`` (which must hold the model's features, ``is_fraud``, ``event_ts``,
        ``card_id``)."""
        model = self.load(ref)
        predictions = prediction_frame(test_frame, predict_proba(model, test_frame))
        return evaluate(predictions, decision, top_k=top_k)

    # -- alias moves -----------------------------------------------------------------------

    def _move_alias(
        self,
        alias: str,
        to_version: int,
        *,
        action: AliasAction,
        reason: str,
        metrics: Mapping[str, float] | None,
    ) -> AliasChange:
        from_version = self.version_of(alias)
        change = AliasChange(
            model_name=self.name,
            alias=alias,
            action=action,
            from_version=from_version,
            to_version=to_version,
            actor=self.actor,
            reason=reason,
            metrics=dict(metrics or {}),
        )
        self._client.set_registered_model_alias(self.name, alias, str(to_version))
        try:
            self.alias_log.append(change)
        except BaseException:
            if from_version is None:
                self._client.delete_registered_model_alias(self.name, alias)
            else:
                self._client.set_registered_model_alias(self.name, alias, str(from_version))
            raise
        log.info(
            "%s@%s: v%s -> v%s (%s: %s)", self.name, alias, from_version, to_version, action, reason
        )
        return change

    def promote(
        self, version: int, reason: str, *, metrics: Mapping[str, float] | None = None
    ) -> AliasChange:
        """Point ``champion`` at ``version`` and record why. Raises :class:`RegistryError`
        when ``version`` already is champion; MLflow's error when it does not exist."""
        self._client.get_model_version(self.name, str(version))  # fail early if missing
        if self.champion_version() == version:
            raise RegistryError(f"{self.name} v{version} already is champion")
        return self._move_alias(CHAMPION, version, action="promote", reason=reason, metrics=metrics)

    def rollback(self, reason: str, *, metrics: Mapping[str, float] | None = None) -> AliasChange:
        """Move ``champion`` back to the version that held it before the current one (from
        the alias log). Raises :class:`RegistryError` when there is none, or when the log's
        current champion is not the registry's (the alias was moved outside this tool)."""
        history = champion_history(self.alias_log.entries(), self.name)
        current = self.champion_version()
        if current is None:
            raise RegistryError(f"{self.name} has no champion to roll back")
        if not history or history[-1] != current:
            raise RegistryError(
                f"{self.name}@champion is v{current} but the alias log says "
                f"{'v' + str(history[-1]) if history else 'nothing'}: the alias was moved "
                "outside fraudlake; promote the intended version explicitly"
            )
        if len(history) < 2:
            raise RegistryError(
                f"{self.name} v{current} is the first champion: nothing to roll back to"
            )
        target = history[-2]
        change = self._move_alias(
            CHAMPION, target, action="rollback", reason=reason, metrics=metrics
        )
        self._set_tags(
            current,
            {
                "rollback.at": change.at.isoformat(),
                "rollback.reason": reason,
                "rollback.to_version": target,
            },
        )
        return change

    # -- registration and the gate -----------------------------------------------------------

    def _set_tags(self, version: int, tags: Mapping[str, object]) -> None:
        for key, value in tags.items():
            self._client.set_model_version_tag(self.name, str(version), key, _tag_value(value))

    def register_best(
        self, results: Sequence[CandidateResult], *, metric: str = SELECTION_METRIC
    ) -> RegisteredVersion:
        """Register the candidate with the best test ``metric`` as a new version of the model
        (created if needed), copy its run's ``lineage.*`` tags onto the version and point
        ``challenger`` at it."""
        best = select_best(results, metric)
        run_tags = self._client.get_run(best.run_id).data.tags
        tags = {k: v for k, v in run_tags.items() if k.startswith(LINEAGE_PREFIX)}
        tags.update(
            {
                "fraudlake.family": best.family,
                "fraudlake.run_id": best.run_id,
                "fraudlake.selected_by": metric,
                f"fraudlake.{metric}": str(best.metrics[metric]),
                "fraudlake.train_window": str(best.train_window),
                "fraudlake.test_window": str(best.test_window),
            }
        )
        use_mlflow(self.tracking_uri)
        mv = mlflow.register_model(best.model_uri, self.name, tags=tags)
        version = int(mv.version)
        others = ", ".join(f"{r.family} {r.metrics[metric]:.4f}" for r in results)
        self._move_alias(
            CHALLENGER,
            version,
            action="register",
            reason=f"best of {len(results)} candidate(s) by {metric}: {others}",
            metrics=best.metrics,
        )
        return RegisteredVersion(
            model_name=self.name,
            version=version,
            family=best.family,
            run_id=best.run_id,
            model_uri=best.model_uri,
            metrics=dict(best.metrics),
        )

    def gate(
        self,
        test_frame: pd.DataFrame,
        decision: DecisionParams,
        *,
        challenger_version: int | None = None,
        challenger_scores: np.ndarray | None = None,
        top_k: int = 100,
    ) -> GateDecision:
        """Score the challenger (default: ``@challenger``) and the champion on ``test_frame``
        and promote the challenger when :func:`promotion_verdict` says so (or when there is
        no champion yet). ``challenger_scores`` — the challenger's scores of ``test_frame``,
        row for row — spare loading it when the caller has them. Records the decision as
        ``gate.*`` tags on the challenger version and returns it. Raises
        :class:`RegistryError` without a challenger."""
        margins = dict(self.params.promotion_margins)
        challenger = (
            challenger_version if challenger_version is not None else self.challenger_version()
        )
        if challenger is None:
            raise RegistryError(f"{self.name} has no challenger: run register_best first")
        champion = self.champion_version()
        challenger_metrics = (
            self.score(challenger, test_frame, decision, top_k=top_k)
            if challenger_scores is None
            else evaluate(prediction_frame(test_frame, challenger_scores), decision, top_k=top_k)
        )
        unknown = sorted(set(margins) - set(challenger_metrics))
        if unknown:
            raise ValueError(
                f"registry.promotion_margins lists unknown metric(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(challenger_metrics))}"
            )
        champion_metrics: dict[str, float] | None = None
        if champion is None:
            promoted, reason = True, "no champion yet: the first challenger becomes champion"
        elif champion == challenger:
            promoted, reason = False, f"v{challenger} already is champion"
            champion_metrics = challenger_metrics
        else:
            try:
                champion_metrics = self.score(champion, test_frame, decision, top_k=top_k)
            except KeyError as exc:  # feature definitions changed since the champion
                promoted = False
                reason = (
                    f"v{challenger} vs champion v{champion}: the champion cannot score this "
                    f"hold-out ({exc}); compare by hand and run `fraudlake model promote "
                    f"{challenger} -r <reason>` if the challenger should serve"
                )
            else:
                promoted, reason = promotion_verdict(challenger_metrics, champion_metrics, margins)
                reason = f"v{challenger} vs champion v{champion}: {reason}"
        result = GateDecision(
            model_name=self.name,
            promoted=promoted,
            reason=reason,
            challenger_version=challenger,
            champion_version=champion,
            challenger_metrics=challenger_metrics,
            champion_metrics=champion_metrics,
            margins=margins,
        )
        if promoted:
            self.promote(challenger, reason, metrics=challenger_metrics)
        tags: dict[str, object] = {
            "gate.decision": "promoted" if promoted else "rejected",
            "gate.reason": reason,
            "gate.at": result.decided_at.isoformat(),
            "gate.actor": self.actor,
            "gate.champion_version": "none" if champion is None else champion,
        }
        for metric in margins:
            tags[f"gate.challenger.{metric}"] = challenger_metrics.get(metric)
            if champion_metrics is not None:
                tags[f"gate.champion.{metric}"] = champion_metrics.get(metric)
        self._set_tags(challenger, tags)
        return result
