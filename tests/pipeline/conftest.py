"""Small projects run through the real `fraudlake` commands (embedded lake, MLflow, GX).

Each test gets its own project folder and state home; the simulated and staged batches
are made once per session and copied, since they do not depend on the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from fraudlake.cli import app
from fraudlake.lake.catalog import open_catalog
from fraudlake.pipeline.validate import gx_root
from fraudlake.settings import get_settings

REPO = Path(__file__).resolve().parents[2]


def small_params(**simulate_overrides: Any) -> dict[str, Any]:
    """The repository's params.yaml, shrunk to a 35-day world of 300 customers."""
    params: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text())
    params["simulate"].update(
        {"days": 35, "n_customers": 300, "n_terminals": 600, **simulate_overrides}
    )
    params["train"].update(
        {"train_days": 10, "gap_days": 7, "test_days": 7, "label_maturity_days": 10}
    )
    for family in params["train"]["models"].values():
        family["n_estimators"] = 40
    params["drift"].update({"reference_days": 7, "current_days": 7})
    return params


@dataclass
class Project:
    root: Path

    def run(self, *args: str) -> Result:
        """``fraudlake --root <root> --params <root>/params.yaml <args>``, in-process."""
        return CliRunner().invoke(
            app,
            ["--root", str(self.root), "--params", str(self.root / "params.yaml"), *args],
        )

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, f"fraudlake {' '.join(args)} failed:\n{result.output}"
        return result

    def catalog(self) -> Any:
        return open_catalog(get_settings())


def make_project(root: Path, params: dict[str, Any]) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "feature_defs", root / "feature_defs", dirs_exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return Project(root)


@pytest.fixture(scope="session")
def staged_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with data/raw and data/staging of the small world."""
    root = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAUDLAKE_HOME", str(root / ".fraudlake"))
        project = make_project(root, small_params())
        project.ok("simulate")
        project.ok("ingest")
    shutil.rmtree(root / ".fraudlake", ignore_errors=True)
    return root


@pytest.fixture(scope="session")
def validated_gx_root(staged_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GX root of a ``validate`` run over the template's staged batches (all pass):
    its remembered verdicts, without the lake that run wrote."""
    root = tmp_path_factory.mktemp("validated")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAUDLAKE_HOME", str(root / "home"))
        project = make_project(root / "project", small_params())
        shutil.copytree(staged_template / "data", project.root / "data")
        project.ok("validate")
        return gx_root(get_settings())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """An empty project (no data yet) with its own state home."""
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path / "home"))
    yield make_project(tmp_path / "project", small_params())


@pytest.fixture
def staged(project: Project, staged_template: Path) -> Project:
    """``project`` with the small world simulated and staged (nothing in the lake)."""
    shutil.copytree(staged_template / "data", project.root / "data")
    return project


@pytest.fixture
def staged_validated_before(staged: Project, validated_gx_root: Path) -> Project:
    """``staged`` whose state home holds the GX root of an earlier run that passed every
    batch (as after yesterday's run), but an empty lake: unchanged batches keep their
    verdicts, changed ones go through GX."""
    shutil.copytree(validated_gx_root, gx_root(get_settings()))
    return staged
