"""Evidently drift (and, with labels, classification) reports, and the verdict they imply.

:func:`run_drift` compares a reference frame with a current frame over the numerical
feature columns with Evidently's ``DataDriftPreset`` (Evidently >= 0.7 API), writes

* ``data_drift.html`` / ``data_drift.json`` — the report as a page with charts, and its
  metrics and per-column tests as JSON;
* ``classification.html`` / ``classification.json`` — only when ``target`` and
  ``prediction`` are given, present in both frames and the labelled rows allow it;
* ``verdict.json`` — a :class:`~fraudlake.monitoring.verdict.DriftVerdict`,

and returns the verdict. The drifted share comes from the report itself (its
``DriftedColumnsCount`` metric, cross-checked against the per-column ``ValueDrift``
tests), the decision from :func:`~fraudlake.monitoring.verdict.drift_verdict`.

Drift tests are Evidently's defaults unless ``stattest`` is given: with more than 1000
reference rows the normed Wasserstein distance (drift when ``>= 0.1``), or the
Jensen-Shannon distance for columns with at most 5 distinct values; with fewer rows the
K-S test (drift when ``p < 0.05``), or chi-square / Z for at most 5 values. The preset's
``drift_share`` is set to ``retrain_share``, so the HTML page's "Dataset Drift is
detected" line means "at least ``retrain_share``" (Evidently compares with ``>=``; the
verdict's bounds are strict ``>``). Sides larger than ``max_rows`` are
down-sampled deterministically (seeded) so a report takes seconds; the verdict records it.

:func:`monitor_drift` is the one-call form for a features frame with ``event_ts``: it
chooses the windows (:mod:`fraudlake.monitoring.windows`) and runs :func:`run_drift`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently import __version__ as evidently_version
from evidently.legacy.calculations.stattests.registry import get_registered_stattest
from evidently.legacy.core import ColumnType
from evidently.presets import ClassificationPreset, DataDriftPreset

from fraudlake.monitoring.verdict import (
    VERDICT_FILE,
    DriftVerdict,
    FeatureDrift,
    ReportPaths,
    Sampling,
    Thresholds,
    drift_verdict,
    utc_now,
)
from fraudlake.monitoring.windows import (
    EVENT_TS,
    Bound,
    Window,
    choose_windows,
    slice_window,
)
from fraudlake.params import DriftParams

logger = logging.getLogger(__name__)

#: Default cap on rows per side fed to Evidently (about 4 s for 50k x 20 features).
DEFAULT_MAX_ROWS = 50_000
#: Default seed of the down-sampling.
DEFAULT_SEED = 0

DATA_DRIFT_HTML = "data_drift.html"
DATA_DRIFT_JSON = "data_drift.json"
CLASSIFICATION_HTML = "classification.html"
CLASSIFICATION_JSON = "classification.json"

PredictionKind = Literal["auto", "probas", "labels"]


class DriftInputError(ValueError):
    """The frames or options cannot give a drift report; the message names the problem."""


def _check_features(
    reference: pd.DataFrame, current: pd.DataFrame, feature_columns: list[str]
) -> None:
    if not feature_columns:
        raise DriftInputError("feature_columns is empty: nothing to compare")
    dupes = sorted({c for c in feature_columns if feature_columns.count(c) > 1})
    if dupes:
        raise DriftInputError(f"feature_columns lists {dupes} more than once")
    for side, frame in (("reference", reference), ("current", current)):
        if frame.empty:
            raise DriftInputError(f"{side} frame has no rows")
        missing = [c for c in feature_columns if c not in frame.columns]
        if missing:
            raise DriftInputError(f"{side} frame lacks feature columns {missing}")
        not_numeric = [
            c for c in feature_columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)
        ]
        if not_numeric:
            raise DriftInputError(
                f"{side} feature columns {not_numeric} are not numerical "
                f"({[str(frame[c].dtype) for c in not_numeric]})"
            )
        empty = [c for c in feature_columns if frame[c].notna().sum() == 0]
        if empty:
            raise DriftInputError(f"{side} feature columns {empty} hold no values (all null)")


def _stattest_display_name(stattest: str) -> str:
    """Evidently's display name of a numerical drift test id (``"psi"`` -> ``"PSI"``).

    Raises :class:`DriftInputError` naming the known tests when the id is unknown.
    """
    try:
        return str(get_registered_stattest(stattest, ColumnType.Numerical).display_name)
    except ValueError as exc:
        raise DriftInputError(f"stattest {stattest!r} is not usable: {exc}") from exc


def _sample(frame: pd.DataFrame, max_rows: int | None, seed: int) -> tuple[pd.DataFrame, bool]:
    """At most ``max_rows`` rows, drawn with ``seed`` and kept in their original order."""
    if max_rows is None or len(frame) <= max_rows:
        return frame, False
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[rows], True


def _drift_dataset(frame: pd.DataFrame, feature_columns: list[str]) -> Dataset:
    data = frame[feature_columns].astype("float64").reset_index(drop=True)
    return Dataset.from_pandas(
        data, data_definition=DataDefinition(numerical_columns=feature_columns)
    )


def _parse_drift(
    report: dict[str, Any], feature_columns: list[str], display_names: dict[str, str]
) -> tuple[int, float, dict[str, FeatureDrift]]:
    """(count, share, per-feature drift) from an Evidently data-drift snapshot ``dict()``.

    A test named by id (when forced) is reported by its display name from ``display_names``,
    like the tests Evidently picks itself.

    Raises ``RuntimeError`` if the report lacks a feature or its count disagrees with its
    own per-column tests: a verdict must never rest on a half-read report.
    """
    count: int | None = None
    share: float | None = None
    scores: dict[str, tuple[str, float, float]] = {}
    for metric in report["metrics"]:
        kind = str(metric["config"]["type"]).rsplit(":", 1)[-1]
        if kind == "DriftedColumnsCount":
            count, share = int(metric["value"]["count"]), float(metric["value"]["share"])
        elif kind == "ValueDrift":
            cfg = metric["config"]
            scores[cfg["column"]] = (
                display_names.get(str(cfg["method"]), str(cfg["method"])),
                float(cfg["threshold"]),
                float(metric["value"]),
            )
    status: dict[str, str] = {}
    for test in report["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if str(params.get("type", "")).endswith(":ValueDrift"):
            status[params["column"]] = str(test["status"])

    if count is None or share is None:
        raise RuntimeError("Evidently report has no DriftedColumnsCount metric")
    lost = [c for c in feature_columns if c not in scores or c not in status]
    if lost:
        raise RuntimeError(f"Evidently report has no drift result for columns {lost}")
    errors = {c: s for c, s in status.items() if s not in ("SUCCESS", "FAIL", "WARNING")}
    if errors:
        raise RuntimeError(f"Evidently drift tests did not run cleanly: {errors}")

    features = {
        c: FeatureDrift(
            stattest=scores[c][0],
            threshold=scores[c][1],
            score=scores[c][2],
            drifted=status[c] != "SUCCESS",
        )
        for c in feature_columns
    }
    flagged = sum(f.drifted for f in features.values())
    if flagged != count:
        raise RuntimeError(
            f"Evidently counts {count} drifted columns but its per-column tests flag {flagged}"
        )
    return count, share, features


def _prediction_is_probas(frame: pd.DataFrame, prediction: str, kind: PredictionKind) -> bool:
    if kind != "auto":
        return kind == "probas"
    col = frame[prediction]
    if not pd.api.types.is_float_dtype(col.dtype):
        return False
    return not set(col.dropna().unique()).issubset({0.0, 1.0})


def _labelled(frame: pd.DataFrame, target: str, prediction: str) -> pd.DataFrame:
    """Rows with both a label and a prediction; the target as int (1 = fraud)."""
    rows = frame.loc[frame[target].notna() & frame[prediction].notna(), [target, prediction]]
    rows = rows.reset_index(drop=True)
    rows[target] = rows[target].astype("int64")
    return rows


def _classification(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    target: str,
    prediction: str,
    kind: PredictionKind,
    probas_threshold: float | None,
) -> tuple[Any, None] | tuple[None, str]:
    """(snapshot, None) for a classification report, or (None, why it was skipped)."""
    for side, frame in (("reference", reference), ("current", current)):
        missing = [c for c in (target, prediction) if c not in frame.columns]
        if missing:
            return None, f"{side} frame lacks {missing}"
    ref, cur = _labelled(reference, target, prediction), _labelled(current, target, prediction)
    for side, rows in (("reference", ref), ("current", cur)):
        classes = set(rows[target].unique())
        if not classes <= {0, 1}:
            return None, f"{side} target {target!r} is not binary 0/1: {sorted(classes)[:5]}"
        if len(classes) < 2:
            return None, (
                f"{side} has {len(rows)} labelled rows with classes {sorted(classes)}; "
                "a classification report needs both classes"
            )
    probas = _prediction_is_probas(ref, prediction, kind)
    if not probas:
        ref[prediction] = ref[prediction].astype("int64")
        cur[prediction] = cur[prediction].astype("int64")
    definition = DataDefinition(
        numerical_columns=[prediction] if probas else [],
        categorical_columns=[target] if probas else [target, prediction],
        classification=[
            BinaryClassification(
                target=target,
                prediction_probas=prediction if probas else None,
                prediction_labels=None if probas else prediction,
                pos_label=1,
            )
        ],
    )
    report = Report([ClassificationPreset(probas_threshold=probas_threshold)])
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    return snapshot, None


def _save(snapshot: Any, html: Path, json_path: Path) -> dict[str, Any]:
    """Write the snapshot's page and JSON; return the JSON as saved (metrics and tests)."""
    snapshot.save_html(str(html))
    saved: dict[str, Any] = json.loads(snapshot.json())
    json_path.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    logger.info("wrote %s and %s", html, json_path)
    return saved


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature_columns: list[str],
    params: DriftParams,
    out_dir: Path,
    *,
    target: str | None = None,
    prediction: str | None = None,
    prediction_kind: PredictionKind = "auto",
    probas_threshold: float | None = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    seed: int = DEFAULT_SEED,
    stattest: str | None = None,
    stattest_threshold: float | None = None,
    reference_window: Window | None = None,
    current_window: Window | None = None,
) -> DriftVerdict:
    """Compare ``current`` with ``reference``, write the reports and ``verdict.json``.

    Args:
        reference, current: frames holding at least ``feature_columns`` (numerical; bools
            and nullable ints are compared as floats; nulls are ignored by the tests).
        feature_columns: the columns whose drift decides the verdict, in report order.
        params: ``investigate_share`` / ``retrain_share`` thresholds of the verdict.
        out_dir: folder for the files (created if missing; existing files are replaced,
            an earlier ``verdict.json`` is removed first so a failed run leaves none).
        target, prediction: label and model-output columns. Give both or neither. When
            both are present in both frames, a classification report is made over the rows
            that have a label and a prediction (labels arrive late, so the newest rows may
            have none); otherwise it is skipped and ``classification_skipped`` says why.
        prediction_kind: ``"probas"`` (a score in [0, 1]), ``"labels"`` (0/1), or
            ``"auto"`` — a float column with values other than 0/1 is taken as probas.
        probas_threshold: cut-off turning probas into labels (Evidently's default 0.5).
        max_rows: cap on rows per side; larger sides are sampled uniformly with ``seed``.
            ``None`` disables sampling.
        seed: seed of that sampling; the same inputs always give the same report.
        stattest, stattest_threshold: force Evidently's numerical drift test (e.g.
            ``"psi"``, ``"ks"``, ``"wasserstein"``) and/or its threshold for every feature.
        reference_window, current_window: the windows the frames were cut from, recorded
            in the verdict; by default described from the frames' ``event_ts`` if present.

    Returns:
        The verdict, also written to ``out_dir/verdict.json``.

    Raises:
        ValueError: ``params.investigate_share > params.retrain_share``.
        DriftInputError: empty frames, missing/non-numerical/all-null feature columns,
            only one of ``target``/``prediction``, a bad ``max_rows`` or an unknown
            ``stattest``.
        RuntimeError: the Evidently report is incomplete or inconsistent with itself.
    """
    _check_features(reference, current, feature_columns)
    if (target is None) != (prediction is None):
        raise DriftInputError("give both target and prediction, or neither")
    if max_rows is not None and max_rows < 1:
        raise DriftInputError(f"max_rows must be >= 1 or None, got {max_rows}")
    drift_verdict(0.0, params)  # refuse contradicting thresholds before any work
    display_names = {stattest: _stattest_display_name(stattest)} if stattest else {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # a failed run must not leave an earlier verdict next to this run's reports
    (out_dir / VERDICT_FILE).unlink(missing_ok=True)

    ref_window = reference_window or Window.describe(reference)
    cur_window = current_window or Window.describe(current)
    ref_sample, ref_sampled = _sample(reference, max_rows, seed)
    cur_sample, cur_sampled = _sample(current, max_rows, seed)
    for side, full, part in (
        ("reference", reference, ref_sample),
        ("current", current, cur_sample),
    ):
        if len(part) < len(full):
            logger.info("sampled %d of %d %s rows (seed %d)", len(part), len(full), side, seed)

    preset = DataDriftPreset(
        columns=feature_columns,
        drift_share=params.retrain_share,
        num_method=stattest,
        num_threshold=stattest_threshold,
    )
    snapshot = Report([preset], include_tests=True).run(
        current_data=_drift_dataset(cur_sample, feature_columns),
        reference_data=_drift_dataset(ref_sample, feature_columns),
    )
    paths: dict[str, Path | None] = {
        "data_drift_html": out_dir / DATA_DRIFT_HTML,
        "data_drift_json": out_dir / DATA_DRIFT_JSON,
        "verdict_json": out_dir / VERDICT_FILE,
    }
    saved = _save(snapshot, out_dir / DATA_DRIFT_HTML, out_dir / DATA_DRIFT_JSON)
    n_drifted, share, features = _parse_drift(saved, feature_columns, display_names)

    skipped: str | None = None
    if target is not None and prediction is not None:
        cls_snapshot, skipped = _classification(
            ref_sample, cur_sample, target, prediction, prediction_kind, probas_threshold
        )
        if cls_snapshot is not None:
            paths["classification_html"] = out_dir / CLASSIFICATION_HTML
            paths["classification_json"] = out_dir / CLASSIFICATION_JSON
            _save(cls_snapshot, out_dir / CLASSIFICATION_HTML, out_dir / CLASSIFICATION_JSON)
        else:
            logger.warning("classification report skipped: %s", skipped)
    for stale in (CLASSIFICATION_HTML, CLASSIFICATION_JSON):
        if "classification_html" not in paths and (out_dir / stale).exists():
            (out_dir / stale).unlink()  # an old run's report must not pass for this one's

    verdict = DriftVerdict(
        verdict=drift_verdict(share, params),
        share_drifted=share,
        n_drifted=n_drifted,
        n_features=len(feature_columns),
        drifted_features=[c for c, f in features.items() if f.drifted],
        features=features,
        thresholds=Thresholds(
            investigate_share=params.investigate_share, retrain_share=params.retrain_share
        ),
        reference=ref_window,
        current=cur_window,
        sampling=Sampling(
            max_rows=max_rows,
            seed=seed,
            reference_rows=len(ref_sample),
            current_rows=len(cur_sample),
            reference_sampled=ref_sampled,
            current_sampled=cur_sampled,
        ),
        classification_skipped=skipped,
        generated_at=utc_now(),
        evidently_version=evidently_version,
        reports=ReportPaths.model_validate(paths),
    )
    verdict.write()
    logger.info(
        "drift verdict %s: %d of %d features drifted (%.1f%%) %s; wrote %s",
        verdict.verdict,
        n_drifted,
        len(feature_columns),
        100 * share,
        verdict.drifted_features,
        verdict.reports.verdict_json,
    )
    return verdict


def monitor_drift(
    features: pd.DataFrame,
    feature_columns: list[str],
    params: DriftParams,
    out_dir: Path,
    *,
    reference: tuple[Bound, Bound] | None = None,
    end: Bound | None = None,
    target: str | None = None,
    prediction: str | None = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    seed: int = DEFAULT_SEED,
) -> DriftVerdict:
    """Choose the windows of ``features`` (by ``event_ts``) and run :func:`run_drift` on them.

    ``reference`` / ``end`` are passed to
    :func:`~fraudlake.monitoring.windows.choose_windows`; the chosen windows are recorded in
    the verdict. Raises :class:`~fraudlake.monitoring.windows.WindowError` when a window is
    empty, and whatever :func:`run_drift` raises.
    """
    windows = choose_windows(features, params, reference=reference, end=end, ts_column=EVENT_TS)
    logger.info(
        "drift windows: reference [%s, %s) %d rows, current [%s, %s) %d rows",
        windows.reference.start,
        windows.reference.end,
        windows.reference.n_rows,
        windows.current.start,
        windows.current.end,
        windows.current.n_rows,
    )
    return run_drift(
        slice_window(features, windows.reference),
        slice_window(features, windows.current),
        feature_columns,
        params,
        out_dir,
        target=target,
        prediction=prediction,
        max_rows=max_rows,
        seed=seed,
        reference_window=windows.reference,
        current_window=windows.current,
    )
