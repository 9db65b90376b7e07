"""Airflow 3: its components run one by one (not ``airflow standalone``, whose log
servers bind every interface), LocalExecutor, PostgreSQL metadata, DAGs from ``dags/``.

Components: ``api-server`` on 127.0.0.1 (UI, REST API, the tasks' execution API),
``scheduler --skip-serve-logs``, ``dag-processor``, ``triggerer --skip-serve-logs``.
``prepare`` runs ``airflow db migrate``. The simple auth manager generates the admin
password once into ``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``;
``stack status`` shows it. Tasks inherit :meth:`StackConfig.client_env`, so the pipeline
they run uses the stack's catalog, S3 and MLflow server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service

#: Components that must report healthy in ``/api/v2/monitor/health``.
MONITORED = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def project_root() -> Path:
    """The checkout holding ``dags/`` and ``dvc.yaml`` (``FRAUDLAKE_PROJECT_ROOT`` or cwd)."""
    return Path(os.environ.get("FRAUDLAKE_PROJECT_ROOT", Path.cwd())).resolve()


class AirflowService(Service):
    name = "airflow"
    requires = ("postgres", "s3", "mlflow")
    start_timeout = 120.0

    @property
    def home(self) -> Path:
        return self.state_dir

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json.generated"

    def ports(self) -> dict[str, int]:
        return {"http": self.config.airflow.port}

    def urls(self) -> dict[str, str]:
        return {"Airflow UI": self.config.airflow_url}

    def password(self) -> str | None:
        """The admin password the simple auth manager generated, once it has."""
        try:
            users = json.loads(self.passwords_file.read_text())
        except (OSError, ValueError):
            return None
        value = users.get(self.config.airflow.admin_user)
        return str(value) if value is not None else None

    def login(self) -> str | None:
        password = self.password()
        user = self.config.airflow.admin_user
        return f"{user} / {password}" if password else f"{user} (password once the API starts)"

    def env(self) -> dict[str, str]:
        cfg = self.config
        af = cfg.airflow
        root = project_root()
        venv_bin = str(Path(sys.executable).parent)
        return {
            **cfg.client_env(),
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
            "FRAUDLAKE_PROJECT_ROOT": str(root),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(af.parallelism),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(af.dags_paused_at_creation),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{af.admin_user}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{cfg.airflow_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": cfg.postgres_uri("airflow"),
            "AIRFLOW__API__HOST": cfg.host,
            "AIRFLOW__API__PORT": str(af.port),
            "AIRFLOW__API__BASE_URL": cfg.airflow_url,
            "AIRFLOW__API__WORKERS": "1",
            # pick up new and changed DAG files within seconds, not the 5-minute default
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(af.run_schedules),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        }

    def _airflow(self) -> str:
        return str(Path(sys.executable).parent / "airflow")

    def prepare(self) -> None:
        """``airflow db migrate`` (creates or upgrades the metadata schema)."""
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [self._airflow(), "db", "migrate"],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise RuntimeError(f"airflow db migrate failed:\n{tail}")

    def processes(self) -> list[ProcessSpec]:
        airflow = self._airflow()
        env = self.env()
        cfg = self.config
        return [
            ProcessSpec(
                "airflow-api-server",
                [airflow, "api-server", "--host", cfg.host, "--port", str(cfg.airflow.port)],
                env=env,
                cwd=self.home,
            ),
            ProcessSpec(
                "airflow-scheduler", [airflow, "scheduler", "--skip-serve-logs"], env, self.home
            ),
            ProcessSpec("airflow-dag-processor", [airflow, "dag-processor"], env, self.home),
            ProcessSpec(
                "airflow-triggerer", [airflow, "triggerer", "--skip-serve-logs"], env, self.home
            ),
        ]

    def healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.config.airflow_url}/api/v2/monitor/health", timeout=3.0)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        body = response.json()
        return all(
            (body.get(component) or {}).get("status") == "healthy" for component in MONITORED
        )
