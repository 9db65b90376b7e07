"""The compiled predictor: the booster's scores, compiled once per machine, and a replica
that cannot compile still serves."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from fraudlake.features.definitions import FeatureSet
from fraudlake.serving.compiled_predictor import compile_predictor, probe_rows
from fraudlake.serving.loaded_models import ModelSlots
from fraudlake.training.models import NativeModel, fit
from tests.serving.conftest import SMALL, training_frame


def _lightgbm(features: FeatureSet, seed: int) -> tuple[lgb.Booster, np.ndarray]:
    x, y = training_frame(features, seed, n=1500)
    model = fit("lightgbm", x, y, SMALL, seed=seed, scale_pos_weight=1.0)
    assert isinstance(model, lgb.Booster)
    return model, x.to_numpy(dtype="float64")


def _objects(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.glob("*.o")}


def test_the_compiled_forest_scores_as_the_booster(features: FeatureSet, tmp_path: Path) -> None:
    booster, x = _lightgbm(features, seed=1)
    predict = compile_predictor(booster, tmp_path, probe_rows(x.shape[1]))
    rows = np.vstack([x, probe_rows(x.shape[1], rows=300, seed=7)])
    native = booster.predict(rows, num_threads=1)
    np.testing.assert_allclose(predict(rows), native, rtol=0, atol=1e-9)
    np.testing.assert_allclose(predict(rows[:1]), native[:1], rtol=0, atol=1e-9)
    assert len(_objects(tmp_path)) == 1


def test_a_second_replica_loads_the_cached_machine_code(
    features: FeatureSet, tmp_path: Path
) -> None:
    booster, x = _lightgbm(features, seed=1)
    compile_predictor(booster, tmp_path, probe_rows(x.shape[1]))
    cached = _objects(tmp_path)
    again = compile_predictor(booster, tmp_path, probe_rows(x.shape[1]))
    assert _objects(tmp_path) == cached  # the same file, not written again
    np.testing.assert_allclose(again(x), booster.predict(x, num_threads=1), rtol=0, atol=1e-9)


def test_cached_machine_code_of_another_model_is_compiled_again(
    features: FeatureSet, tmp_path: Path
) -> None:
    a, x = _lightgbm(features, seed=1)
    b, _ = _lightgbm(features, seed=2)
    compile_predictor(a, tmp_path / "a", probe_rows(x.shape[1]))
    compile_predictor(b, tmp_path / "b", probe_rows(x.shape[1]))
    (a_object,) = (tmp_path / "a").glob("*.o")
    (b_object,) = (tmp_path / "b").glob("*.o")
    shutil.copyfile(b_object, a_object)  # e.g. a cache folder copied between models
    predict = compile_predictor(a, tmp_path / "a", probe_rows(x.shape[1]))
    np.testing.assert_allclose(predict(x), a.predict(x, num_threads=1), rtol=0, atol=1e-9)
    assert a_object.read_bytes() != b_object.read_bytes()


class _Source:
    """The registry surface the slots need, over models in memory."""

    name = "fraud-detector"

    def __init__(self, models: dict[int, NativeModel], aliases: dict[str, int]) -> None:
        self.models = models
        self.where = aliases

    def aliases(self) -> dict[str, int]:
        return dict(self.where)

    def load(self, ref: int | str) -> NativeModel:
        return self.models[int(ref)]


def _slots(features: FeatureSet, compiled_dir: Path) -> tuple[ModelSlots, np.ndarray]:
    booster, x = _lightgbm(features, seed=1)
    tx, ty = training_frame(features, 3, n=1500)
    xgboost = fit("xgboost", tx, ty, SMALL, seed=3, scale_pos_weight=1.0)
    source = _Source({1: booster, 2: xgboost}, {"champion": 1, "challenger": 2})
    return ModelSlots(source, served=features.names, compiled_dir=compiled_dir), x


def test_slots_serve_lightgbm_compiled_and_xgboost_natively(
    features: FeatureSet, tmp_path: Path
) -> None:
    slots, x = _slots(features, tmp_path)
    slots.refresh()
    assert slots.require_champion().predictor == "native"
    native = slots.require_champion().predict(x)

    assert slots.use_predictor("compiled") == ["champion 1: compiled predictor"]
    champion, challenger = slots.require_champion(), slots.challenger
    assert (champion.predictor, challenger and challenger.predictor) == ("compiled", "native")
    np.testing.assert_allclose(champion.predict(x), native, rtol=0, atol=1e-9)
    # Reasons still come from the booster.
    assert champion.contributions(x[:2]).shape == (2, len(champion.features) + 1)

    assert slots.use_predictor("native") == ["champion 1: native predictor"]
    assert slots.require_champion().predictor == "native"


def test_a_new_champion_is_compiled_before_it_is_served(
    features: FeatureSet, tmp_path: Path
) -> None:
    slots, x = _slots(features, tmp_path)
    slots.predictor = "compiled"
    slots.refresh()
    b, _ = _lightgbm(features, seed=2)
    slots.source.models[3] = b  # type: ignore[attr-defined]
    slots.source.where["champion"] = 3  # type: ignore[attr-defined]
    assert slots.refresh() == ["champion 1 -> 3"]
    champion = slots.require_champion()
    assert (champion.version, champion.predictor) == (3, "compiled")
    np.testing.assert_allclose(champion.predict(x), b.predict(x, num_threads=1), atol=1e-9)


def test_a_replica_that_cannot_compile_serves_the_booster(
    features: FeatureSet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    slots, x = _slots(features, not_a_folder)
    slots.predictor = "compiled"
    with caplog.at_level(logging.ERROR):
        assert slots.refresh() == ["champion None -> 1", "challenger None -> 2"]
    champion = slots.require_champion()
    assert champion.predictor == "native"
    assert "could not compile model fraud-detector version 1; serving it natively" in caplog.text
    assert champion.predict(x).shape == (len(x),)
