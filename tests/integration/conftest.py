"""The real local stack, started once for the integration tests through the same code as
``fraudlake stack up``, on its own ports and state folder, and stopped at the end.

Package scope: the stack and its environment end with this package, so no later test
sees them. The project is copied into a temporary git checkout (the pipeline's lineage records its
commit) with a small world in ``params.yaml``, so the DAG's runs never touch the
developer's workspace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fraudlake.stack.airflow import AirflowService
from fraudlake.stack.airflow_client import AirflowClient
from fraudlake.stack.config import StackConfig
from fraudlake.stack.manager import Stack
from fraudlake.stack.scratch import scratch_stack
from tests.pipeline.conftest import small_params

REPO = Path(__file__).resolve().parents[2]
#: Added to every default port so a developer's running stack is left alone.
PORT_OFFSET = 100
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tools",
    ".fraudlake",
    "data",
    "reports",
    "dvc.lock",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "flink_jobs",
)


@dataclass
class StackUnderTest:
    stack: Stack
    project: Path

    @property
    def config(self) -> StackConfig:
        return self.stack.config

    def airflow(self) -> AirflowClient:
        password = AirflowService(self.config).password()
        assert password, "Airflow generated no admin password"
        return AirflowClient(self.config.airflow_url, self.config.airflow.admin_user, password)


def _make_project(root: Path) -> Path:
    project = root / "project"
    shutil.copytree(REPO, project, ignore=COPY_IGNORE)
    (project / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    git = ["git", "-c", "user.name=fraudlake-tests", "-c", "user.email=tests@fraudlake.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", "integration test snapshot"], cwd=project, check=True
    )
    return project


@pytest.fixture(scope="package")
def live_stack() -> Iterator[StackUnderTest]:
    # not under pytest's 0700 temp root: PostgreSQL runs as its own user when we are root
    root = Path(tempfile.mkdtemp(prefix="fraudlake-stack-"))
    root.chmod(0o755)
    project = _make_project(root)
    env = {
        "FRAUDLAKE_PROJECT_ROOT": str(project),
        # Only the tests' own runs: a scheduled fraud_stream_to_lake run would race them.
        "FRAUDLAKE_STACK_AIRFLOW__RUN_SCHEDULES": "false",
    }
    try:
        with scratch_stack(root, PORT_OFFSET, env=env) as stack:
            yield StackUnderTest(stack, project)
    finally:
        if not os.environ.get("FRAUDLAKE_KEEP_TEST_STACK"):  # keep it to read the logs
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stack_env(live_stack: StackUnderTest, monkeypatch: pytest.MonkeyPatch) -> StackUnderTest:
    """The test talks to the stack like a shell after `eval "$(fraudlake stack env)"`."""
    for key, value in live_stack.config.client_env().items():
        monkeypatch.setenv(key, value)
    return live_stack
