"""What a model version was built from: its run's git commit, ``dvc.lock`` hashes, the
Iceberg snapshots it read (checked against the lake), its metrics and gate decision."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from fraudlake.training.tracking import LINEAGE_PREFIX

_SNAPSHOT = f"{LINEAGE_PREFIX}snapshot."
_DVC = f"{LINEAGE_PREFIX}dvc."


class LineageError(LookupError):
    """The version, or its training run, is not in the registry."""


@dataclass(frozen=True)
class SnapshotRef:
    table: str
    snapshot_id: int | None
    #: "retained" (the lake still holds it), "expired", "table missing" or "none"
    status: str


@dataclass(frozen=True)
class ModelLineage:
    model_name: str
    version: int
    run_id: str
    family: str
    git_commit: str
    dvc: dict[str, str]
    snapshots: list[SnapshotRef]
    metrics: dict[str, float]
    gate: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def resolves(self) -> bool:
        """Every snapshot the version was trained on is still in the lake."""
        return all(s.status in ("retained", "none") for s in self.snapshots)


def model_lineage(
    client: MlflowClient, catalog: Catalog, model_name: str, version: int
) -> ModelLineage:
    """The lineage of ``model_name`` version ``version``; :class:`LineageError` if absent."""
    try:
        mv = client.get_model_version(model_name, str(version))
    except MlflowException as exc:
        raise LineageError(
            f"{model_name} has no version {version}: see `fraudlake model list`"
        ) from exc
    if not mv.run_id:
        raise LineageError(f"{model_name} version {version} has no training run")
    run = client.get_run(mv.run_id)
    tags = run.data.tags
    refs = [
        _snapshot_ref(catalog, key[len(_SNAPSHOT) :], value)
        for key, value in sorted(tags.items())
        if key.startswith(_SNAPSHOT)
    ]
    aliases = [
        a
        for a, v in client.get_registered_model(model_name).aliases.items()
        if str(v) == str(version)
    ]
    return ModelLineage(
        model_name=model_name,
        version=int(version),
        run_id=mv.run_id,
        family=tags.get("fraudlake.family", mv.tags.get("fraudlake.family", "")),
        git_commit=tags.get(f"{LINEAGE_PREFIX}git_commit", "unknown"),
        dvc={k[len(_DVC) :]: v for k, v in sorted(tags.items()) if k.startswith(_DVC)},
        snapshots=refs,
        metrics=dict(sorted(run.data.metrics.items())),
        gate={k: v for k, v in sorted(mv.tags.items()) if k.startswith("gate.")},
        aliases=sorted(aliases),
    )


def _snapshot_ref(catalog: Catalog, table: str, value: str) -> SnapshotRef:
    if value in ("", "None"):
        return SnapshotRef(table, None, "none")
    snapshot_id = int(value)
    try:
        found = catalog.load_table(table).snapshot_by_id(snapshot_id)
    except NoSuchTableError:
        return SnapshotRef(table, snapshot_id, "table missing")
    return SnapshotRef(table, snapshot_id, "retained" if found else "expired")
