"""The handbook comparison follows the protocol behind the published numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from fraudlake.params import TrainParams
from fraudlake.pipeline.handbook import (
    HANDBOOK_BEST,
    beats_published,
    fold_summary,
    handbook_folds,
)


def test_folds_are_the_handbooks_prequential_test_folds() -> None:
    base = TrainParams(imbalance="none")
    folds = handbook_folds(base)
    # start_date_training_for_test = 2018-07-25 + 3 weeks, shifted back a week per fold
    assert [f.train_start for f in folds] == [
        dt.date(2018, 8, 15),
        dt.date(2018, 8, 8),
        dt.date(2018, 8, 1),
        dt.date(2018, 7, 25),
    ]
    for f in folds:
        assert f.train_start is not None and f.test_start is not None
        assert (f.train_days, f.test_days) == (7, 7)
        assert f.test_start - f.train_start == dt.timedelta(days=14)  # 7 train + 7 delay
        assert f.models == base.models and f.imbalance == "none"
    # the oldest fold is the chapter-3 baseline split
    assert folds[-1].test_start == dt.date(2018, 8, 8)


def test_fold_summary_is_mean_and_population_std() -> None:
    folds = [
        {"roc_auc": 0.85, "average_precision": 0.6, "card_precision_at_100": 0.30},
        {"roc_auc": 0.95, "average_precision": 0.8, "card_precision_at_100": 0.32},
    ]
    summary = fold_summary(folds)
    assert summary["roc_auc"]["mean"] == pytest.approx(0.90)
    assert summary["roc_auc"]["std"] == pytest.approx(0.05)  # not the sample std 0.0707
    assert summary["average_precision"]["mean"] == pytest.approx(0.7)
    assert beats_published(summary) == {
        "roc_auc": True,
        "average_precision": True,
        "card_precision_at_100": True,
    }
    worse = fold_summary([{k: v - 0.001 for k, v in HANDBOOK_BEST.items()}])
    assert not any(beats_published(worse).values())
    with pytest.raises(ValueError, match="no folds"):
        fold_summary([])
