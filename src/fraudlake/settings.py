"""Runtime configuration: where things live and how to reach them.

Pipeline *parameters* (what to compute) live in ``params.yaml``; *settings* (where to
read and write, credentials) come from environment variables prefixed ``FRAUDLAKE_``
or a ``.env`` file, so the same code runs embedded, on the local stack and in production.

Embedded default: everything under ``FRAUDLAKE_HOME`` (``./.fraudlake``): a SQLite
Iceberg catalog, a local warehouse folder and a local MLflow store. Point
``FRAUDLAKE_WAREHOUSE`` at ``s3://bucket/prefix`` and set the ``FRAUDLAKE_S3_*`` values
to use any S3 server (SeaweedFS locally, MinIO or AWS in production).
"""

from __future__ import annotations

import warnings
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_HMAC_KEY = "fraudlake-dev-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUDLAKE_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".fraudlake"), description="state folder of the embedded mode")
    data_dir: Path = Field(Path("data"), description="raw, staging and quarantine batches")
    reports_dir: Path = Field(Path("reports"), description="HTML/JSON reports, metrics")

    catalog_name: str = "fraudlake"
    catalog_uri: str | None = Field(
        None, description="SQLAlchemy URI of the Iceberg SQL catalog; default SQLite in home"
    )
    warehouse: str | None = Field(
        None, description="Iceberg warehouse: a folder or s3://bucket/prefix; default home"
    )

    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_path_style: bool = True

    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking/registry URI; default SQLite store in home"
    )
    mlflow_experiment: str = "fraud-detection"
    alias_log: Path | None = Field(
        None, description="append-only log of every registry alias change; default in home"
    )

    hmac_key: SecretStr = Field(
        SecretStr(DEV_HMAC_KEY), description="key of the card-number pseudonymisation"
    )

    @cached_property
    def resolved_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home.resolve()

    @property
    def resolved_catalog_uri(self) -> str:
        return self.catalog_uri or f"sqlite:///{self.resolved_home / 'catalog.db'}"

    @property
    def resolved_warehouse(self) -> str:
        if self.warehouse:
            return self.warehouse
        folder = self.resolved_home / "warehouse"
        folder.mkdir(parents=True, exist_ok=True)
        return f"file://{folder}"

    @property
    def resolved_mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.resolved_home / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> str:
        """Artifact root for a new experiment in the embedded store."""
        folder = self.resolved_home / "mlartifacts"
        folder.mkdir(parents=True, exist_ok=True)
        return folder.as_uri()

    @property
    def resolved_alias_log(self) -> Path:
        return self.alias_log or self.resolved_home / "registry" / "alias-changes.jsonl"

    def hmac_key_bytes(self) -> bytes:
        key = self.hmac_key.get_secret_value()
        if key == DEV_HMAC_KEY:
            warnings.warn(
                "FRAUDLAKE_HMAC_KEY is the development key; set your own before real data",
                stacklevel=2,
            )
        return key.encode()


def get_settings() -> Settings:
    """Settings from the environment; a new object each call so tests can override env."""
    return Settings()
