"""Model fitting: native boosters, imbalance weight, seeded, scores by feature name."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from fraudlake.params import TrainParams
from fraudlake.training.metrics import roc_auc
from fraudlake.training.models import (
    FAMILIES,
    ModelFamily,
    class_ratio,
    feature_importance,
    feature_names,
    fit,
    hyperparameters,
    predict_proba,
)
from fraudlake.training.split import split_train_test


def test_class_ratio() -> None:
    assert class_ratio([0, 0, 0, 1]) == 3.0
    with pytest.raises(ValueError, match="both classes"):
        class_ratio([0, 0])


@pytest.mark.parametrize("family", FAMILIES)
def test_fit_learns_and_exposes_native_booster(
    family: ModelFamily,
    synthetic_frame: pd.DataFrame,
    feature_columns: list[str],
    train_params: TrainParams,
) -> None:
    split = split_train_test(synthetic_frame, train_params)
    x, y = split.train[feature_columns], split.train["is_fraud"]
    model = fit(family, x, y, train_params.models, seed=7)
    assert isinstance(model, lgb.Booster if family == "lightgbm" else xgb.Booster)
    assert feature_names(model) == feature_columns
    hyper = hyperparameters(family, train_params.models, seed=7, scale_pos_weight=1.0)
    assert hyper["n_jobs"] == 2 and hyper["random_state"] == 7

    # scores by feature *name*: extra and reordered columns do not matter
    shuffled = split.test[["region", *reversed(feature_columns), "card_id"]]
    scores = predict_proba(model, shuffled)
    assert scores.shape == (len(split.test),)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc(split.test["is_fraud"], scores) > 0.85

    again = fit(family, x, y, train_params.models, seed=7)
    np.testing.assert_array_equal(predict_proba(again, split.test), scores)

    importance = feature_importance(model)
    assert list(importance.columns) == ["feature", "gain", "splits", "gain_share"]
    assert set(importance["feature"]) == set(feature_columns)
    assert importance["gain_share"].sum() == pytest.approx(1.0)
    assert importance["feature"].iloc[-1] == "noise" or importance["feature"].iloc[0] != "noise"

    # what serving needs: per-feature contributions from the native booster
    rows = split.test[feature_columns].head(3)
    if isinstance(model, lgb.Booster):
        contrib = model.predict(rows, pred_contrib=True)
    else:
        contrib = model.predict(xgb.DMatrix(rows), pred_contribs=True)
    assert np.asarray(contrib).shape == (3, len(feature_columns) + 1)

    with pytest.raises(KeyError, match="velocity"):
        predict_proba(model, split.test.drop(columns="velocity"))


@pytest.mark.parametrize("family", FAMILIES)
def test_max_bin_resolves_a_sharp_cut_off_in_the_tail(
    family: ModelFamily, train_params: TrainParams
) -> None:
    # The handbook's "amount > 220" fraud: a cut-off inside the top quantile bin. With a
    # few bins the threshold is blurred; with max_bin as configured it is found exactly.
    rng = np.random.default_rng(3)
    amount = rng.lognormal(mean=3.5, sigma=0.6, size=20_000)
    cut = float(np.quantile(amount, 0.995))
    x = pd.DataFrame({"amount": amount})
    y = (amount > cut).astype(int)

    def precision_above_cut(max_bin: int) -> float:
        models = train_params.models.model_copy(
            update={
                family: getattr(train_params.models, family).model_copy(
                    update={"max_bin": max_bin, "subsample": 1.0, "colsample_bytree": 1.0}
                )
            }
        )
        scores = predict_proba(fit(family, x, y, models, seed=7, scale_pos_weight=1.0), x)
        flagged = scores >= 0.5
        return float(y[flagged].mean()) if flagged.any() else 0.0

    assert precision_above_cut(1024) > 0.99
    assert precision_above_cut(8) < 0.9
