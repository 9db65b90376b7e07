"""LightGBM models compiled to machine code (lleaves, through LLVM) for the replicas'
predict.

``make bench`` measured the compiled forest at 3.7x the native booster's rows/s one row
at a time and 5.4x in 256-row batches, with the same scores. Compiling costs seconds
(5-13 s for the 200-tree benchmark model, depending on the machine), so a replica
compiles a version once, *before* it swaps it in, and keeps the machine code in a cache
folder keyed by the model's text and the CPU: the other replicas, and the next start,
load it in milliseconds. A file lock makes replicas sharing the folder compile a version
once between them. Reasons (``pred_contrib``) stay with the native booster; XGBoost
models are served natively.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np

from fraudlake.atomic_write import write_text_atomic

if TYPE_CHECKING:
    import lleaves

log = logging.getLogger(__name__)

#: Rows in, scores out (1-D float64), single-threaded.
Predict = Callable[[np.ndarray], np.ndarray]


class CompiledMismatchError(RuntimeError):
    """The compiled forest's scores differ from the native booster's."""


def compile_predictor(booster: lgb.Booster, cache_dir: Path, probe: np.ndarray) -> Predict:
    """``booster``'s predict compiled to machine code, from ``cache_dir`` when a replica
    compiled it before. Before it is returned, its scores of the ``probe`` rows must
    equal the booster's (to 1e-9): a cached object that does not match is compiled
    again, a compiler that gets it wrong raises :class:`CompiledMismatchError`."""
    text = booster.model_to_string()
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = cache_dir / _cache_key(text)
    source, machine_code = stem.with_suffix(".txt"), stem.with_suffix(".o")
    expected = np.asarray(booster.predict(probe, num_threads=1), dtype="float64")

    def matches(predict: Predict) -> bool:
        return bool(np.allclose(predict(probe), expected, rtol=0, atol=1e-9, equal_nan=True))

    with _locked(stem.with_suffix(".lock")):
        if not source.exists():
            write_text_atomic(source, text)
        if machine_code.exists():
            cached = _loaded(source, machine_code)
            if matches(cached):
                return cached
            log.warning("compiled model %s does not match its booster; compiling again", stem)
            machine_code.unlink()
        fresh = _compiled(source, machine_code)
        if matches(fresh):
            return fresh
    raise CompiledMismatchError(
        f"the forest compiled by lleaves {version('lleaves')} scores the probe rows "
        "differently from LightGBM; serve this model natively (predictor: native)"
    )


def probe_rows(n_features: int, rows: int = 64, seed: int = 0) -> np.ndarray:
    """Rows to compare a compiled forest with its booster on: zeros, missing values and
    values spread over many magnitudes (both sides of most split thresholds)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n_features)) * 10.0 ** rng.integers(-2, 5, (rows, 1))
    x[0] = 0.0
    x[1] = np.nan
    x[2, ::2] = np.nan
    return x


def _loaded(source: Path, machine_code: Path) -> Predict:
    """The forest of ``source`` from its object file (milliseconds)."""
    model = _model(source)
    model.compile(cache=str(machine_code))  # an existing cache file is loaded, not rebuilt
    return _predict_of(model)


def _compiled(source: Path, machine_code: Path) -> Predict:
    """The forest of ``source`` compiled (seconds), its object file left at
    ``machine_code``."""
    # lleaves writes its cache file while compiling: into another name (the caller holds
    # the lock, so one name is enough), renamed when whole, so no replica loads half an
    # object file.
    model = _model(source)
    partial = machine_code.with_suffix(".partial")
    try:
        model.compile(cache=str(partial))
        os.replace(partial, machine_code)
    finally:
        partial.unlink(missing_ok=True)
    return _predict_of(model)


def _model(source: Path) -> lleaves.Model:
    import lleaves  # LLVM is loaded only by the replicas that compile

    return lleaves.Model(model_file=str(source))


def _predict_of(model: lleaves.Model) -> Predict:
    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(x, n_jobs=1), dtype="float64")

    return predict


def _cache_key(text: str) -> str:
    import llvmlite.binding as llvm

    host = f"{llvm.get_host_cpu_name()}|{version('lleaves')}|{version('llvmlite')}"
    return hashlib.sha256(f"{host}\n{text}".encode()).hexdigest()[:24]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
