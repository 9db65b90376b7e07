"""Reasons come from the model: contributions add up to its score, and the feature that
makes a transaction fraudulent is its top reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudlake.params import LightGBMParams, ModelParams, XGBoostParams
from fraudlake.serving.reasons import contributions, top_reasons
from fraudlake.training.models import FAMILIES, ModelFamily, feature_names, fit, predict_proba

SMALL = ModelParams(
    lightgbm=LightGBMParams(n_estimators=40, min_child_samples=5),
    xgboost=XGBoostParams(n_estimators=40, max_depth=3),
)


def _data(n: int = 3000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    x = pd.DataFrame(
        {
            "amount": rng.uniform(0, 300, n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
        }
    )
    # Fraud when the amount is high (the simulation's rule (a)), with a little label noise.
    y = ((x["amount"] > 220) ^ (rng.random(n) < 0.02)).astype(int).to_numpy()
    return x, y


@pytest.mark.parametrize("family", FAMILIES)
def test_contributions_sum_to_the_score(family: ModelFamily) -> None:
    x, y = _data()
    model = fit(family, x, y, SMALL, seed=1, scale_pos_weight=1.0)
    contrib = contributions(model, x.head(200))
    assert contrib.shape == (200, len(feature_names(model)) + 1)
    from_parts = 1 / (1 + np.exp(-contrib.sum(axis=1)))
    np.testing.assert_allclose(from_parts, predict_proba(model, x.head(200)), atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_amount_is_the_top_reason_of_a_high_amount_fraud(family: ModelFamily) -> None:
    x, y = _data()
    model = fit(family, x, y, SMALL, seed=1, scale_pos_weight=1.0)
    names = feature_names(model)
    row = pd.DataFrame([{"amount": 290.0, "noise_a": 0.0, "noise_b": 0.0}])
    reasons = top_reasons(names, row[names].to_numpy()[0], contributions(model, row)[0], k=2)
    assert reasons[0].feature == "amount"
    assert reasons[0].value == 290.0
    assert all(r.contribution > 0 for r in reasons)
    ordered = [r.contribution for r in reasons]
    assert ordered == sorted(ordered, reverse=True)


def test_top_reasons_keep_only_positive_contributions_and_ignore_the_bias() -> None:
    names = ["a", "b", "c", "d"]
    row = np.array([0.3, -1.0, 0.3, 0.0, 5.0])  # last: the bias
    reasons = top_reasons(names, np.arange(4.0), row, k=3)
    assert [r.feature for r in reasons] == ["a", "c"]  # ties by name; b, d and the bias never
    assert [r.value for r in reasons] == [0.0, 2.0]
