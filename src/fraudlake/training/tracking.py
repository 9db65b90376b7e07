"""MLflow plumbing shared by training and the registry.

- :func:`use_mlflow` points MLflow's *process-wide* tracking and registry URI at one
  store (the fluent API — ``log_model``, ``load_model`` — only reads the global URI);
- :func:`ensure_experiment` creates an experiment with an explicit artifact root;
- :func:`log_native_model` / :func:`load_native_model` store and load the boosters with
  their native flavour (``mlflow.lightgbm`` / ``mlflow.xgboost``), a signature, an input
  example and pinned requirements;
- :func:`lineage_tags` turns a lineage map into valid ``lineage.*`` tag keys.

Works with the embedded SQLite store (``sqlite:///…/mlflow.db``, local artifact folder)
as well as with a tracking server.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from urllib.parse import urlparse

import mlflow
import mlflow.lightgbm
import mlflow.xgboost
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import LifecycleStage
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from fraudlake.training.models import (
    ModelFamily,
    NativeModel,
    family_of,
    model_input,
    predict_proba,
)

#: Tag-key prefix of lineage entries.
LINEAGE_PREFIX = "lineage."
#: Rows of the test set stored as the model's input example.
INPUT_EXAMPLE_ROWS = 5

_TAG_KEY_BAD = re.compile(r"[^/\w.\- :]")


def use_mlflow(tracking_uri: str) -> MlflowClient:
    """Point MLflow's global tracking *and* registry URI at ``tracking_uri``; return a
    client for it. Side effect: later fluent MLflow calls in this process use that store."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def is_remote(tracking_uri: str) -> bool:
    """True for a tracking server (HTTP(S), Databricks), which owns its artifact root."""
    return urlparse(tracking_uri).scheme in {"http", "https", "databricks"}


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """Id of experiment ``name``, creating it with ``artifact_location`` (``None``: the
    store's default) when missing. A deleted experiment of that name is an error."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException as exc:  # created concurrently by another process
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == LifecycleStage.DELETED:
        raise MlflowException(
            f"MLflow experiment {name!r} is deleted: restore it (mlflow experiments restore "
            f"--experiment-id {experiment.experiment_id}) or choose another name"
        )
    return str(experiment.experiment_id)


def lineage_tags(lineage: Mapping[str, str]) -> dict[str, str]:
    """``lineage.<key>`` → value, with characters MLflow refuses in tag keys replaced by
    ``_`` (the exact keys belong in the ``lineage.json`` artifact)."""
    tags: dict[str, str] = {}
    for key, value in lineage.items():
        safe = _TAG_KEY_BAD.sub("_", str(key)).strip("/") or "_"
        safe = re.sub(r"/+", "/", safe)
        tags[f"{LINEAGE_PREFIX}{safe}"] = str(value)
    return tags


def _installed(*dists: str) -> str:
    for dist in dists:
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return dists[0]


def pip_requirements(family: ModelFamily) -> list[str]:
    """Pinned requirements of a logged model (MLflow adds itself). Giving them explicitly
    also spares MLflow's slow requirement inference."""
    engine = (
        _installed("lightgbm") if family == "lightgbm" else _installed("xgboost", "xgboost-cpu")
    )
    return [engine, _installed("numpy"), _installed("pandas")]


def log_native_model(
    model: NativeModel, example_frame: pd.DataFrame, *, name: str = "model"
) -> ModelInfo:
    """Log ``model`` to the active run with its native flavour, a signature inferred from
    the first rows of ``example_frame`` and those rows as input example. Returns MLflow's
    :class:`~mlflow.models.ModelInfo` (``model_uri`` is ``models:/<model_id>``)."""
    example = model_input(model, example_frame.head(INPUT_EXAMPLE_ROWS)).reset_index(drop=True)
    signature = infer_signature(example, predict_proba(model, example))
    family = family_of(model)
    if family == "lightgbm":
        return mlflow.lightgbm.log_model(
            model,
            name=name,
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(family),
        )
    return mlflow.xgboost.log_model(
        model,
        name=name,
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(family),
        model_format="ubj",
    )


def load_native_model(model_uri: str) -> NativeModel:
    """Load the booster at ``model_uri`` (``models:/<name>@<alias>``, ``models:/<name>/<v>``,
    ``models:/<model_id>``, ``runs:/…``) with the flavour it was logged with."""
    flavors = mlflow.models.get_model_info(model_uri).flavors
    model: object
    if "lightgbm" in flavors:
        model = mlflow.lightgbm.load_model(model_uri)
    elif "xgboost" in flavors:
        model = mlflow.xgboost.load_model(model_uri)
    else:
        raise MlflowException(
            f"{model_uri} is neither a LightGBM nor an XGBoost model (flavours: {sorted(flavors)})"
        )
    family_of(model)  # type: ignore[arg-type]  # raises for a wrapped sklearn model
    return model  # type: ignore[return-value]
