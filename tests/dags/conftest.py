"""Airflow in a throw-away home: no airflow.cfg, metadata DB or example DAGs of the machine's.

Airflow reads ``AIRFLOW_HOME`` and ``AIRFLOW__*`` when it is first imported, so they are set
here, at collection time, before the test modules import it; once this package's tests are
done the variables are restored and the home removed. Parsing DAGs with a
:class:`~airflow.dag_processing.dagbag.DagBag` needs no database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "dags"

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="fraudlake-airflow-home-")
_AIRFLOW_ENV = {"AIRFLOW_HOME": _AIRFLOW_HOME, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
_PREVIOUS_ENV = {name: os.environ.get(name) for name in _AIRFLOW_ENV}
os.environ.update(_AIRFLOW_ENV)


@pytest.fixture(scope="package", autouse=True)
def _airflow_home() -> Iterator[Path]:
    yield Path(_AIRFLOW_HOME)
    for name, value in _PREVIOUS_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the DAG from this checkout unless a test points it elsewhere."""
    monkeypatch.delenv("FRAUDLAKE_PROJECT_ROOT", raising=False)
