"""MLflow tracking server and model registry: PostgreSQL backend, artifacts on S3.

The server proxies artifacts (``--serve-artifacts``), so clients only need its URL; it
alone holds the S3 keys. ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` keeps it to two
processes (about 0.5 GB instead of 2.4 GB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service


class MlflowService(Service):
    name = "mlflow"
    requires = ("postgres", "s3")
    start_timeout = 90.0

    def ports(self) -> dict[str, int]:
        return {"http": self.config.mlflow.port}

    def urls(self) -> dict[str, str]:
        return {"MLflow UI": self.config.mlflow_uri}

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        cfg = self.config
        s3 = cfg.s3
        argv = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            cfg.host,
            "--port",
            str(cfg.mlflow.port),
            "--workers",
            str(cfg.mlflow.workers),
            "--backend-store-uri",
            cfg.postgres_uri("mlflow", driver="postgresql"),
            "--artifacts-destination",
            f"s3://{s3.mlflow_bucket}/artifacts",
            "--serve-artifacts",
        ]
        env = {
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_S3_ENDPOINT_URL": cfg.s3_endpoint,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
        }
        return [ProcessSpec("mlflow", argv, env=env, cwd=self.state_dir)]

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.config.mlflow_uri}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False
