"""Monitoring: data drift and the champion's delayed-label performance, one verdict.

:func:`run_monitoring` is what the daily Airflow DAG ``fraud_monitoring`` (and the
``fraudlake monitor`` command) runs. It writes into ``reports/monitoring/``:

* ``drift/`` — the drift stage's reports, made by the same code
  (:func:`fraudlake.pipeline.drift.drift_report`): ``data_drift.{html,json}``,
  ``classification.{html,json}`` when the champion could score, and the drift
  ``verdict.json``;
* ``performance.json`` — a :class:`~fraudlake.monitoring.performance.PerformanceVerdict`:
  the champion's metrics on the newest matured days against its hold-out metrics recorded
  at registration;
* ``performance.html`` — Evidently's classification report of the champion's hold-out
  (reference) against the matured window (current), when both hold fraud;
* ``verdict.json`` — the combined verdict, the more severe of the two parts
  (``retrain`` > ``investigate`` > ``ok``), both parts in full and one reason per part.

``reports/drift`` is never touched: it is the DVC output of the ``drift`` stage.

This module imports only light modules at the top (the heavy engines — Evidently,
MLflow, pyiceberg — inside the functions), because the Airflow DAG imports
:func:`branch_for` and the task ids when it is parsed, and DAG files must parse in
seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from fraudlake.params import Params, load_params
from fraudlake.pipeline.layout import Layout
from fraudlake.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from fraudlake.monitoring.performance import EvaluatedRows, PerformanceVerdict
    from fraudlake.monitoring.verdict import DriftVerdict
    from fraudlake.pipeline.drift import ScoredFeatures
    from fraudlake.training.registry import Registry

log = logging.getLogger(__name__)

#: A part's or the combined recommendation (the same labels as the drift verdict's).
Verdict = Literal["ok", "investigate", "retrain"]

#: Verdicts from least to most severe; the combined verdict is the most severe part.
SEVERITY: Final[tuple[Verdict, ...]] = ("ok", "investigate", "retrain")

#: Folder under ``reports/`` of a monitoring run, and its files.
MONITORING_DIR = "monitoring"
DRIFT_SUBDIR = "drift"
VERDICT_FILE = "verdict.json"
PERFORMANCE_FILE = "performance.json"
PERFORMANCE_HTML = "performance.html"

#: Task ids of the ``fraud_monitoring`` DAG's two branches (see :func:`branch_for`).
TRIGGER_RETRAINING = "trigger_retraining"
NO_RETRAINING = "no_retraining"

#: Top-k of Card Precision@k, as training evaluates it (so the metric keys match).
TOP_K = 100


def most_severe(*verdicts: str) -> Verdict:
    """The most severe of ``verdicts`` by :data:`SEVERITY`.

    Raises ``ValueError`` for no verdict or an unknown label: a misspelt verdict must not
    silently count as ``"ok"``.
    """
    if not verdicts:
        raise ValueError("no verdict to combine")
    unknown = sorted(set(verdicts) - set(SEVERITY))
    if unknown:
        raise ValueError(f"unknown verdict(s) {unknown}; expected one of {list(SEVERITY)}")
    return max((v for v in SEVERITY if v in verdicts), key=SEVERITY.index)


def branch_for(verdict: str) -> str:
    """Task id the ``fraud_monitoring`` DAG follows for a combined ``verdict``.

    ``"retrain"`` → :data:`TRIGGER_RETRAINING`; ``"ok"`` and ``"investigate"`` →
    :data:`NO_RETRAINING` (investigating is a person's job, not a retraining's).
    Raises ``ValueError`` for anything else, so a broken verdict fails the run instead of
    quietly skipping a retraining.
    """
    if verdict not in SEVERITY:
        raise ValueError(f"unknown verdict {verdict!r}; expected one of {list(SEVERITY)}")
    return TRIGGER_RETRAINING if verdict == "retrain" else NO_RETRAINING


@dataclass(frozen=True)
class ChampionHoldout:
    """What the registry recorded about the champion's hold-out when it was trained.

    ``metrics`` are its training run's logged metrics (``evaluate`` keys among them);
    the windows come from the run's split params (``None`` when not recorded);
    ``lookback_days`` is how far back known-compromised cards were looked up
    (training start to test start); ``drop_known_compromised`` whether they were removed.
    """

    version: int
    run_id: str
    metrics: dict[str, float]
    test_start: dt.date | None
    test_end: dt.date | None
    lookback_days: int | None
    drop_known_compromised: bool


def champion_holdout(registry: Registry, version: int) -> ChampionHoldout:
    """The hold-out record of ``version``: its training run's metrics and split params.

    Raises MLflow's exception when the version or its run is gone, ``KeyError`` when the
    run has no metrics.
    """
    client = registry.client
    model_version = client.get_model_version(registry.name, str(version))
    run_id = model_version.tags.get("fraudlake.run_id") or model_version.run_id
    if not run_id:
        raise KeyError(f"{registry.name} v{version} names no training run")
    run = client.get_run(run_id)
    metrics = {k: float(v) for k, v in run.data.metrics.items()}
    if not metrics:
        raise KeyError(f"run {run_id} of {registry.name} v{version} logged no metrics")
    split = run.data.params

    def day(name: str) -> dt.date | None:
        value = split.get(name)
        return dt.date.fromisoformat(value) if value else None

    train_start, test_start = day("train_start"), day("test_start")
    lookback = (test_start - train_start).days if train_start and test_start else None
    return ChampionHoldout(
        version=version,
        run_id=run_id,
        metrics=metrics,
        test_start=test_start,
        test_end=day("test_end"),
        lookback_days=lookback,
        drop_known_compromised=split.get("drop_known_compromised", "True") == "True",
    )


@dataclass(frozen=True)
class MonitoringOutcome:
    """Result of :func:`run_monitoring`.

    ``verdict`` is :func:`most_severe` of ``drift.verdict`` and ``performance.verdict``;
    ``reasons`` holds one line per part (``"drift ...: ..."``, ``"performance ...: ..."``);
    ``reports`` maps report names to the files written (``None``: not made this run).
    """

    verdict: Verdict
    reasons: list[str]
    drift: DriftVerdict
    performance: PerformanceVerdict
    champion_version: int | None
    reports: dict[str, Path | None]

    @property
    def verdict_json(self) -> Path:
        """The combined ``verdict.json``."""
        path = self.reports[VERDICT_FILE]
        assert path is not None  # always written
        return path

    def summary(self) -> dict[str, Any]:
        """A small JSON-ready digest (for Airflow's XCom and the CLI)."""
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "drift": self.drift.verdict,
            "performance": self.performance.verdict,
            "champion_version": self.champion_version,
            "verdict_json": str(self.verdict_json),
        }


def _drift_reason(drift: DriftVerdict) -> str:
    shown = ", ".join(drift.drifted_features[:5])
    more = len(drift.drifted_features) - 5
    named = f": {shown}{f' and {more} more' if more > 0 else ''}" if shown else ""
    return (
        f"{drift.n_drifted} of {drift.n_features} features drifted "
        f"({drift.share_drifted:.0%}; investigate above {drift.thresholds.investigate_share:.0%}"
        f", retrain above {drift.thresholds.retrain_share:.0%}){named}"
    )


def _utc_day(value: dt.date) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(value).tz_localize("UTC")


def _assess(
    params: Params, scored: ScoredFeatures, registry: Registry
) -> tuple[PerformanceVerdict, EvaluatedRows | None, EvaluatedRows | None]:
    """The performance part, plus the matured rows and the champion's hold-out rows (for
    the HTML report; ``None`` when not available)."""
    from mlflow.exceptions import MlflowException

    from fraudlake.monitoring.performance import (
        NO_CHAMPION,
        assess_performance,
        matured_rows,
        unmeasured,
        window_rows,
    )

    maturity = params.train.label_maturity_days
    version = scored.champion_version
    if version is None:
        return unmeasured(NO_CHAMPION, params.drift, label_maturity_days=maturity), None, None
    if not scored.scored:
        reason = scored.unscored or f"champion v{version} gave no scores"
        verdict = unmeasured(
            reason, params.drift, label_maturity_days=maturity, champion_version=version
        )
        return verdict, None, None
    try:
        holdout = champion_holdout(registry, version)
    except (MlflowException, KeyError) as exc:
        reason = f"hold-out metrics of champion v{version} cannot be read: {exc}"
        verdict = unmeasured(
            reason, params.drift, label_maturity_days=maturity, champion_version=version
        )
        return verdict, None, None
    # look cards up as far back as training did before its hold-out
    lookback = params.train.train_days + params.train.gap_days
    matured = matured_rows(
        scored.frame,
        window_days=params.drift.current_days,
        label_maturity_days=maturity,
        lookback_days=lookback,
        drop_known_compromised=holdout.drop_known_compromised,
    )
    verdict = assess_performance(
        matured,
        holdout.metrics,
        params.drift,
        params.decision,
        label_maturity_days=maturity,
        champion_version=version,
        top_k=TOP_K,
    )
    reference: EvaluatedRows | None = None
    if holdout.test_start and holdout.test_end:
        reference = window_rows(
            scored.frame,
            _utc_day(holdout.test_start),
            _utc_day(holdout.test_end),
            lookback_days=holdout.lookback_days or lookback,
            drop_known_compromised=holdout.drop_known_compromised,
        )
    return verdict, matured, reference


def _performance_html(reference: pd.DataFrame, current: pd.DataFrame, html: Path) -> str | None:
    """Evidently's classification report, champion's hold-out (reference) vs the matured
    window (current), as ``html``. Returns why it was skipped, or ``None`` when written.

    Best effort: the verdict does not depend on this page, so a side without both classes
    skips it (logged) instead of failing the run.
    """
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    columns = ["is_fraud", "score"]
    sides = {}
    for name, frame in (("hold-out", reference), ("matured window", current)):
        rows = frame.loc[frame["score"].notna(), columns].reset_index(drop=True)
        rows["is_fraud"] = rows["is_fraud"].astype("int64")
        classes = sorted(set(rows["is_fraud"].unique()))
        if classes != [0, 1]:
            return f"the {name} has {len(rows)} labelled rows with classes {classes}"
        sides[name] = rows
    definition = DataDefinition(
        numerical_columns=["score"],
        categorical_columns=["is_fraud"],
        classification=[
            BinaryClassification(target="is_fraud", prediction_probas="score", pos_label=1)
        ],
    )
    snapshot = Report([ClassificationPreset()]).run(
        current_data=Dataset.from_pandas(sides["matured window"], data_definition=definition),
        reference_data=Dataset.from_pandas(sides["hold-out"], data_definition=definition),
    )
    snapshot.save_html(str(html))
    return None


def _write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented strict JSON, atomically (no half-written verdict)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def run_monitoring(params: Params, settings: Settings, layout: Layout) -> MonitoringOutcome:
    """Run drift and performance monitoring on the lake's current snapshots.

    Drift: the newest ``drift.current_days`` against the ``drift.reference_days`` before
    them, exactly as the ``drift`` stage (see :mod:`fraudlake.pipeline.drift`). Performance:
    the champion's scores on the newest matured days against its hold-out metrics (see
    :mod:`fraudlake.monitoring.performance`); without a champion it is ``"investigate"``
    with reason ``"no champion"`` and drift still runs.

    Writes ``reports/monitoring/`` (module docstring); earlier ``verdict.json`` /
    ``performance.*`` are removed first, so a failed run leaves no stale verdict behind.
    Returns the outcome. Raises what the drift stage raises when the lake cannot give
    the windows (no features yet, an empty window).
    """
    from fraudlake.pipeline.drift import drift_report, load_scored_features
    from fraudlake.pipeline.register import open_registry

    out_dir = layout.report_dir(MONITORING_DIR)
    verdict_path = out_dir / VERDICT_FILE
    performance_path = out_dir / PERFORMANCE_FILE
    html_path = out_dir / PERFORMANCE_HTML
    for stale in (verdict_path, performance_path, html_path):
        stale.unlink(missing_ok=True)

    scored = load_scored_features(params, settings)
    log.info(
        "monitoring %s (champion %s, features snapshot %s) into %s",
        params.registry.model_name,
        "none" if scored.champion_version is None else f"v{scored.champion_version}",
        scored.snapshot_ids.get("features.transactions"),
        out_dir,
    )
    drift = drift_report(params, scored, out_dir / DRIFT_SUBDIR)

    performance, matured, reference = _assess(params, scored, open_registry(params, settings))
    performance.write(performance_path)
    log.info("performance: %s — %s (%s)", performance.verdict, performance.reason, performance_path)
    html: Path | None = None
    if matured is not None and reference is not None:
        skipped = _performance_html(reference.rows, matured.rows, html_path)
        if skipped is None:
            html = html_path
            log.info("performance report: %s", html_path)
        else:
            log.warning("performance report skipped: %s", skipped)

    combined = most_severe(drift.verdict, performance.verdict)
    reasons = [
        f"drift {drift.verdict}: {_drift_reason(drift)}",
        f"performance {performance.verdict}: {performance.reason}",
    ]
    reports: dict[str, Path | None] = {
        VERDICT_FILE: verdict_path,
        PERFORMANCE_FILE: performance_path,
        PERFORMANCE_HTML: html,
        "drift_verdict_json": drift.reports.verdict_json,
        "data_drift_html": drift.reports.data_drift_html,
        "classification_html": drift.reports.classification_html,
    }
    payload: dict[str, Any] = {
        "verdict": combined,
        "reasons": reasons,
        "champion_version": scored.champion_version,
        "snapshot_ids": scored.snapshot_ids,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "reports": {name: None if p is None else str(p) for name, p in reports.items()},
        "drift": drift.model_dump(mode="json"),
        "performance": performance.model_dump(mode="json"),
    }
    _write_json(verdict_path, payload)
    log.info("monitoring verdict: %s — %s; wrote %s", combined, "; ".join(reasons), verdict_path)
    return MonitoringOutcome(
        verdict=combined,
        reasons=reasons,
        drift=drift,
        performance=performance,
        champion_version=scored.champion_version,
        reports=reports,
    )


def settings_for(project_root: Path) -> Settings:
    """Settings as the project's commands see them when run from ``project_root``.

    Airflow runs tasks in its own working directory, while the CLI and ``dvc repro`` run
    in the project root (the batch DAG sets ``cwd`` to it): so ``.env`` is read from the
    root and relative state paths (``FRAUDLAKE_HOME``, ``FRAUDLAKE_ALIAS_LOG``, a local
    ``FRAUDLAKE_WAREHOUSE`` folder) are taken relative to it. Absolute paths and URIs
    (the local stack's PostgreSQL catalog, S3 warehouse, MLflow server) are kept.
    """
    env_file = project_root / ".env"
    base = Settings(_env_file=env_file)
    updates: dict[str, Any] = {}
    if not base.home.is_absolute():
        updates["home"] = project_root / base.home
    if base.alias_log is not None and not base.alias_log.is_absolute():
        updates["alias_log"] = project_root / base.alias_log
    if base.warehouse and "://" not in base.warehouse and not Path(base.warehouse).is_absolute():
        updates["warehouse"] = str(project_root / base.warehouse)
    return Settings(_env_file=env_file, **updates)


def monitor_for_airflow(project_root: Path | str) -> dict[str, Any]:
    """:func:`run_monitoring` for the project at ``project_root`` (its ``params.yaml``,
    :func:`settings_for` it, its ``reports/``); returns :meth:`MonitoringOutcome.summary`.

    Raises :class:`~fraudlake.params.ParamsError` for a missing or invalid ``params.yaml``
    and whatever :func:`run_monitoring` raises — the task then fails and says why.
    """
    root = Path(project_root).expanduser().resolve()
    params = load_params(root / "params.yaml")
    outcome = run_monitoring(params, settings_for(root), Layout(root))
    summary = outcome.summary()
    log.info("verdict %s → branch %s", outcome.verdict, branch_for(outcome.verdict))
    return summary
