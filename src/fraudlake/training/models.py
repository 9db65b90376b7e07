"""Fit the candidate model families and score with their native boosters.

Both families are fitted through their scikit-learn API (which maps the familiar
hyper-parameter names) and handed on as **native boosters** — ``lightgbm.Booster`` and
``xgboost.Booster`` — because that is what MLflow stores and what serving needs:
``Booster.predict(..., pred_contrib=True)`` (LightGBM) and
``Booster.predict(DMatrix, pred_contribs=True)`` / ``Booster.inplace_predict`` (XGBoost).
Each booster remembers its feature names; :func:`predict_proba` selects exactly those
columns from a frame, so a model can score any frame that has them.

Class imbalance is handled with ``scale_pos_weight`` (:func:`positive_weight`: the
genuine / fraud ratio of the training labels, its square root, or 1). This re-weights the
classes, so scores rank well but are not calibrated probabilities: a weighted model
flags more at a fixed threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, get_args

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

from fraudlake.params import ModelParams

ModelFamily: TypeAlias = Literal["lightgbm", "xgboost"]
NativeModel: TypeAlias = lgb.Booster | xgb.Booster

#: Every family, in the order candidates are trained.
FAMILIES: tuple[ModelFamily, ...] = get_args(ModelFamily)

#: Threads per fit; the pipeline runs beside other work.
N_JOBS = 2


def class_ratio(y: Sequence[int] | np.ndarray | pd.Series) -> float:
    """Genuine count / fraud count of ``y`` (0/1); raises ``ValueError`` without both."""
    labels = np.asarray(y).astype(int)
    positives = int(labels.sum())
    negatives = int(labels.size - positives)
    if positives == 0 or negatives == 0:
        raise ValueError(
            f"training labels need both classes (got {positives} fraud, {negatives} genuine)"
        )
    return negatives / positives


def positive_weight(y: Sequence[int] | np.ndarray | pd.Series, imbalance: str) -> float:
    """``scale_pos_weight`` for the ``train.imbalance`` policy: the class ratio
    (``balanced``), its square root (``sqrt``) or 1 (``none``)."""
    ratio = class_ratio(y)
    return {"balanced": ratio, "sqrt": float(np.sqrt(ratio)), "none": 1.0}[imbalance]


def hyperparameters(
    family: ModelFamily, params: ModelParams, *, seed: int, scale_pos_weight: float
) -> dict[str, Any]:
    """The exact constructor arguments :func:`fit` uses for ``family`` (also logged)."""
    if family == "lightgbm":
        p = params.lightgbm
        return {
            "objective": "binary",
            "n_estimators": p.n_estimators,
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "min_child_samples": p.min_child_samples,
            "subsample": p.subsample,
            "subsample_freq": 1,  # without it LightGBM ignores subsample
            "colsample_bytree": p.colsample_bytree,
            "max_bin": p.max_bin,
            "scale_pos_weight": scale_pos_weight,
            "random_state": seed,
            "n_jobs": N_JOBS,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
    if family == "xgboost":
        q = params.xgboost
        return {
            "objective": "binary:logistic",
            "n_estimators": q.n_estimators,
            "learning_rate": q.learning_rate,
            "max_depth": q.max_depth,
            "min_child_weight": q.min_child_weight,
            "subsample": q.subsample,
            "colsample_bytree": q.colsample_bytree,
            "max_bin": q.max_bin,
            "scale_pos_weight": scale_pos_weight,
            "tree_method": "hist",
            "eval_metric": "aucpr",
            "random_state": seed,
            "n_jobs": N_JOBS,
        }
    raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")


def fit(
    family: ModelFamily,
    x: pd.DataFrame,
    y: Sequence[int] | np.ndarray | pd.Series,
    params: ModelParams,
    *,
    seed: int,
    scale_pos_weight: float | None = None,
) -> NativeModel:
    """Fit ``family`` on features ``x`` (its columns become the model's feature names)
    and 0/1 labels ``y``; return the native booster. Deterministic for a given seed."""
    labels = np.asarray(y).astype(int)
    weight = class_ratio(labels) if scale_pos_weight is None else scale_pos_weight
    kwargs = hyperparameters(family, params, seed=seed, scale_pos_weight=weight)
    if family == "lightgbm":
        lgb_model = lgb.LGBMClassifier(**kwargs).fit(x, labels)
        return lgb_model.booster_
    xgb_model = xgb.XGBClassifier(**kwargs).fit(x, labels)
    return xgb_model.get_booster()


def family_of(model: NativeModel) -> ModelFamily:
    """Which family a native booster belongs to."""
    if isinstance(model, lgb.Booster):
        return "lightgbm"
    if isinstance(model, xgb.Booster):
        return "xgboost"
    raise TypeError(f"not a LightGBM or XGBoost booster: {type(model).__name__}")


def feature_names(model: NativeModel) -> list[str]:
    """The feature columns ``model`` was trained on, in order."""
    if isinstance(model, lgb.Booster):
        return list(model.feature_name())
    names = model.feature_names
    if not names:
        raise ValueError("this XGBoost booster has no feature names; fit it on a DataFrame")
    return list(names)


def model_input(model: NativeModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``frame`` that ``model`` reads, in its order, as float64.

    Raises ``KeyError`` naming the missing features.
    """
    names = feature_names(model)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks feature column(s) the model needs: {', '.join(missing)}")
    return frame[names].astype("float64")


def predict_proba(model: NativeModel, frame: pd.DataFrame) -> np.ndarray:
    """Fraud score in [0, 1] of each row of ``frame`` (1-D float64 array)."""
    x = model_input(model, frame)
    if isinstance(model, lgb.Booster):
        scores = model.predict(x)
    elif isinstance(model, xgb.Booster):
        scores = model.inplace_predict(x)
    else:
        raise TypeError(f"not a LightGBM or XGBoost booster: {type(model).__name__}")
    return np.asarray(scores, dtype="float64").ravel()


def feature_importance(model: NativeModel) -> pd.DataFrame:
    """Per feature: total ``gain``, number of ``splits`` and ``gain_share`` (sums to 1 when
    any split exists), sorted by gain, highest first. Unused features have zeros."""
    names = feature_names(model)
    if isinstance(model, lgb.Booster):
        gain = np.asarray(model.feature_importance(importance_type="gain"), dtype=float)
        splits = np.asarray(model.feature_importance(importance_type="split"), dtype=float)
    else:
        total_gain = model.get_score(importance_type="total_gain")
        weight = model.get_score(importance_type="weight")
        gain = np.array([float(np.asarray(total_gain.get(n, 0.0))) for n in names])
        splits = np.array([float(np.asarray(weight.get(n, 0.0))) for n in names])
    total = gain.sum()
    table = pd.DataFrame(
        {
            "feature": names,
            "gain": gain,
            "splits": splits.astype(int),
            "gain_share": gain / total if total > 0 else np.zeros_like(gain),
        }
    )
    return table.sort_values(["gain", "feature"], ascending=[False, True]).reset_index(drop=True)
