"""Registration, the promotion gate, promote and rollback on a real SQLite registry."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from fraudlake.params import DecisionParams, RegistryParams, TrainParams
from fraudlake.training.alias_log import AliasChange, AliasLog, JsonlAliasLog
from fraudlake.training.models import predict_proba
from fraudlake.training.registry import (
    Registry,
    RegistryError,
    champion_history,
    promotion_verdict,
    select_best,
)
from fraudlake.training.split import split_train_test
from fraudlake.training.train import CandidateResult

MakeRegistry = Callable[..., Registry]


@pytest.fixture(scope="module")
def test_frame(synthetic_frame: pd.DataFrame, train_params: TrainParams) -> pd.DataFrame:
    """The hold-out the candidates were evaluated on."""
    return split_train_test(synthetic_frame, train_params).test


@pytest.fixture()
def make_registry(
    request: pytest.FixtureRequest, mlflow_store: tuple[str, str], tmp_path: Path
) -> MakeRegistry:
    """Registry factory; every test gets its own model name and alias log."""
    name = "fd-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")

    def make(margins: dict[str, float] | None = None, log: AliasLog | None = None) -> Registry:
        params = RegistryParams(model_name=name)
        if margins is not None:
            params = RegistryParams(model_name=name, promotion_margins=margins)
        return Registry(
            mlflow_store[0],
            params,
            log if log is not None else JsonlAliasLog(tmp_path / "aliases.jsonl"),
            actor="pytest",
        )

    return make


@pytest.fixture()
def strong(candidates: tuple[list[CandidateResult], Path]) -> list[CandidateResult]:
    return candidates[0]


def champion_moves(reg: Registry) -> list[tuple[str, int | None, int | None]]:
    return [
        (e.action, e.from_version, e.to_version)
        for e in reg.alias_log.entries()
        if e.alias == "champion"
    ]


def version_tags(reg: Registry, version: int) -> dict[str, str]:
    client = MlflowClient(tracking_uri=reg.tracking_uri)
    return client.get_model_version(reg.name, str(version)).tags


# -- pure rules -----------------------------------------------------------------------------


def test_promotion_verdict_needs_every_margin_and_a_strict_gain() -> None:
    margins = {"average_precision": 0.005, "roc_auc": 0.0}
    old = {"average_precision": 0.50, "roc_auc": 0.90}
    ok, reason = promotion_verdict({"average_precision": 0.51, "roc_auc": 0.90}, old, margins)
    assert ok, reason
    ok, _ = promotion_verdict({"average_precision": 0.505, "roc_auc": 0.90}, old, margins)
    assert ok  # exactly the margin passes ("at least")
    ok, reason = promotion_verdict({"average_precision": 0.504, "roc_auc": 0.95}, old, margins)
    assert not ok and "average_precision" in reason
    ok, reason = promotion_verdict({"average_precision": 0.60, "roc_auc": 0.899}, old, margins)
    assert not ok and "roc_auc" in reason
    ok, reason = promotion_verdict(dict(old), old, {"average_precision": 0.0, "roc_auc": 0.0})
    assert not ok and "no better" in reason  # equal never wins, even with zero margins
    ok, _ = promotion_verdict(
        {"average_precision": 0.52, "roc_auc": 0.899},
        old,
        {"average_precision": 0.0, "roc_auc": -0.01},
    )
    assert ok  # a negative margin tolerates a small loss
    ok, reason = promotion_verdict({"average_precision": math.nan, "roc_auc": 1.0}, old, margins)
    assert not ok and "undefined" in reason
    with pytest.raises(ValueError, match="card_precision"):
        promotion_verdict(old, old, {"card_precision_at_7": 0.0})
    with pytest.raises(ValueError):
        promotion_verdict(old, old, {})


def test_champion_history_pushes_promotions_and_pops_rollbacks() -> None:
    def ch(
        action: str, frm: int | None, to: int, alias: str = "champion", name: str = "m"
    ) -> AliasChange:
        return AliasChange.model_validate(
            {"model_name": name, "alias": alias, "action": action, "from_version": frm,
             "to_version": to, "actor": "a", "reason": "r"}
        )  # fmt: skip

    entries = [
        ch("register", None, 1, alias="challenger"),
        ch("promote", None, 1),
        ch("promote", 1, 2),
        ch("promote", 2, 3, name="other"),
        ch("promote", 2, 3),
        ch("rollback", 3, 2),
        ch("promote", 2, 4),
    ]
    assert champion_history(entries, "m") == [1, 2, 4]
    assert champion_history(entries[:6], "m") == [1, 2]
    assert champion_history(entries, "other") == [3]


def test_select_best_by_average_precision(strong: list[CandidateResult]) -> None:
    best = select_best(strong)
    assert best.metrics["average_precision"] == max(r.metrics["average_precision"] for r in strong)
    with pytest.raises(ValueError):
        select_best([])


# -- the registry ----------------------------------------------------------------------------


def test_first_challenger_becomes_champion(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    reg = make_registry()
    assert reg.champion_version() is None and reg.challenger_version() is None
    registered = reg.register_best(weak_candidates)
    assert registered.version == 1 and reg.challenger_version() == 1
    decision_ = reg.gate(test_frame, decision)
    assert decision_.promoted
    assert decision_.champion_version is None and decision_.champion_metrics is None
    assert reg.champion_version() == 1
    assert champion_moves(reg) == [("promote", None, 1)]
    (register,) = [e for e in reg.alias_log.entries() if e.alias == "challenger"]
    assert (register.action, register.from_version, register.to_version) == ("register", None, 1)
    assert register.actor == "pytest"
    tags = version_tags(reg, 1)
    assert tags["gate.decision"] == "promoted"
    assert tags["gate.champion_version"] == "none"
    assert tags["fraudlake.family"] == "lightgbm"
    assert tags["lineage.git_commit"] == "weak"  # lineage copied from the run


def test_the_gate_takes_the_challengers_scores_when_the_caller_has_them(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    reg = make_registry()
    registered = reg.register_best(weak_candidates)
    loaded = reg.score(registered.version, test_frame, decision)
    scores = predict_proba(reg.load(registered.version), test_frame)
    given = reg.gate(test_frame, decision, challenger_scores=scores)
    assert given.challenger_metrics == pytest.approx(loaded, nan_ok=True)
    # The given scores are what is measured: the labels themselves measure a perfect model.
    reg.register_best(weak_candidates)
    oracle = test_frame["is_fraud"].astype(float).to_numpy()
    perfect = reg.gate(test_frame, decision, challenger_scores=oracle)
    assert perfect.challenger_metrics["average_precision"] == pytest.approx(1.0)
    assert loaded["average_precision"] < 0.5


def test_clearly_better_challenger_is_promoted(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    strong: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    reg = make_registry()
    reg.register_best(weak_candidates)
    reg.gate(test_frame, decision)
    registered = reg.register_best(strong)
    assert registered.version == 2 and reg.challenger_version() == 2
    result = reg.gate(test_frame, decision)
    assert result.promoted, result.reason
    assert (result.challenger_version, result.champion_version) == (2, 1)
    assert reg.champion_version() == 2
    assert result.champion_metrics is not None
    ap_new = result.challenger_metrics["average_precision"]
    ap_old = result.champion_metrics["average_precision"]
    assert ap_new > ap_old + 0.005
    # both scored on the same hold-out the candidates were evaluated on
    assert ap_new == pytest.approx(registered.metrics["average_precision"])
    assert ap_old == pytest.approx(weak_candidates[0].metrics["average_precision"])
    assert champion_moves(reg) == [("promote", None, 1), ("promote", 1, 2)]
    last = reg.alias_log.entries()[-1]
    assert last.metrics["average_precision"] == pytest.approx(ap_new)
    assert "beats" in last.reason
    tags = version_tags(reg, 2)
    assert tags["gate.decision"] == "promoted" and tags["gate.champion_version"] == "1"
    assert float(tags["gate.challenger.average_precision"]) == pytest.approx(ap_new)


def test_worse_or_equal_challenger_is_not_promoted(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    strong: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    reg = make_registry()
    reg.register_best(strong)
    reg.gate(test_frame, decision)
    assert reg.champion_version() == 1

    reg.register_best(weak_candidates)  # worse
    worse = reg.gate(test_frame, decision)
    assert not worse.promoted and "not better" in worse.reason
    assert reg.champion_version() == 1
    assert version_tags(reg, 2)["gate.decision"] == "rejected"

    reg.register_best(strong)  # the very same model again: equal
    equal = reg.gate(test_frame, decision)
    assert not equal.promoted
    assert equal.champion_metrics == equal.challenger_metrics
    assert reg.champion_version() == 1 and reg.challenger_version() == 3
    assert champion_moves(reg) == [("promote", None, 1)]


def test_margins_are_respected(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    strong: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    base = make_registry()
    base.register_best(weak_candidates)
    base.gate(test_frame, decision)
    base.register_best(strong)
    gain = (
        base.score(2, test_frame, decision)["average_precision"]
        - base.score(1, test_frame, decision)["average_precision"]
    )
    too_strict = make_registry({"average_precision": gain + 1e-3})
    result = too_strict.gate(test_frame, decision)
    assert not result.promoted and "margin" in result.reason
    impossible_auc = make_registry({"average_precision": 0.0, "roc_auc": 1.0})
    assert not impossible_auc.gate(test_frame, decision).promoted
    assert base.champion_version() == 1
    just_enough = make_registry({"average_precision": gain - 1e-3, "roc_auc": 0.0})
    assert just_enough.gate(test_frame, decision).promoted
    assert base.champion_version() == 2
    with pytest.raises(ValueError, match="unknown metric"):
        make_registry({"lift": 0.1}).gate(test_frame, decision)


def test_promote_and_rollback_move_the_alias_and_log_each_change(
    make_registry: MakeRegistry,
    tmp_path: Path,
    weak_candidates: list[CandidateResult],
    strong: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    reg = make_registry()
    reg.register_best(weak_candidates)
    reg.gate(test_frame, decision)  # v1 champion
    reg.register_best(strong)
    reg.register_best(weak_candidates)
    log_path = tmp_path / "aliases.jsonl"
    log_bytes = log_path.read_bytes()

    moved = reg.promote(2, "manual: fix for incident 42")
    assert (moved.from_version, moved.to_version, moved.actor) == (1, 2, "pytest")
    reg.promote(3, "manual: trying v3")
    assert reg.champion_version() == 3
    with pytest.raises(RegistryError, match="already is champion"):
        reg.promote(3, "again")

    back = reg.rollback("v3 misbehaves")
    assert (back.action, back.from_version, back.to_version) == ("rollback", 3, 2)
    assert reg.champion_version() == 2
    assert version_tags(reg, 3)["rollback.reason"] == "v3 misbehaves"
    reg.rollback("v2 too")
    assert reg.champion_version() == 1
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback("no more")
    assert reg.champion_version() == 1

    assert champion_moves(reg) == [
        ("promote", None, 1),
        ("promote", 1, 2),
        ("promote", 2, 3),
        ("rollback", 3, 2),
        ("rollback", 2, 1),
    ]
    assert log_path.read_bytes().startswith(log_bytes)  # earlier lines untouched
    reasons = [e.reason for e in reg.alias_log.entries() if e.alias == "champion"]
    assert reasons[1:] == [
        "manual: fix for incident 42",
        "manual: trying v3",
        "v3 misbehaves",
        "v2 too",
    ]


def test_rollback_refuses_when_alias_was_moved_elsewhere(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    strong: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    reg = make_registry()
    reg.register_best(weak_candidates)
    reg.gate(test_frame, decision)
    reg.register_best(strong)
    reg.promote(2, "manual")
    MlflowClient(tracking_uri=reg.tracking_uri).set_registered_model_alias(
        reg.name, "champion", "1"
    )
    with pytest.raises(RegistryError, match="outside"):
        reg.rollback("should not guess")
    assert reg.champion_version() == 1


def test_alias_is_restored_when_the_log_cannot_be_written(
    make_registry: MakeRegistry,
    weak_candidates: list[CandidateResult],
    test_frame: pd.DataFrame,
    decision: DecisionParams,
) -> None:
    class BrokenLog(AliasLog):
        def append(self, change: AliasChange) -> None:
            raise OSError("disk full")

        def entries(self) -> list[AliasChange]:
            return []

    reg = make_registry(log=BrokenLog())
    with pytest.raises(OSError, match="disk full"):
        reg.register_best(weak_candidates)
    assert reg.challenger_version() is None
    with pytest.raises(RegistryError, match="no challenger"):
        reg.gate(test_frame, decision)
