"""PostgreSQL: the Iceberg catalog, MLflow's backend store and Airflow's metadata.

The Debian package's binaries, run as the project's own cluster in
``<state>/postgres/data`` on its own port, with its Unix socket in the state folder (never
the system's /var/run/postgresql). Password authentication over TCP on 127.0.0.1 only.
"""

from __future__ import annotations

import glob
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg2
from psycopg2 import sql

from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service
from fraudlake.stack.system_user import check_reachable, hand_over, service_user, user_ids


def postgres_bin_dir() -> Path:
    """Folder of ``initdb`` and ``postgres``: ``pg_config --bindir``, else the newest
    ``/usr/lib/postgresql/<v>/bin``. Raises with the fix when PostgreSQL is missing."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if versions:
        return Path(versions[-1]).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found; run `make install` "
        "(installs the Debian package postgresql)"
    )


class PostgresService(Service):
    name = "postgres"
    start_timeout = 30.0

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "socket"

    def ports(self) -> dict[str, int]:
        return {"sql": self.config.postgres.port}

    def urls(self) -> dict[str, str]:
        pg = self.config.postgres
        return {"sql": f"postgresql://{pg.user}@{self.config.host}:{pg.port}/"}

    def login(self) -> str | None:
        return f"{self.config.postgres.user} / {self.config.postgres.password}"

    def prepare(self) -> None:
        """``initdb`` on first start (superuser and password from the config)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        check_reachable(self.state_dir)
        if (self.data_dir / "PG_VERSION").exists():
            hand_over(self.state_dir)
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.state_dir, delete=False) as pw:
            pw.write(self.config.postgres.password + "\n")
        pwfile = Path(pw.name)
        try:
            hand_over(self.state_dir)
            argv = [
                str(postgres_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.config.postgres.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-instructions",
            ]
            uid, gid, groups = user_ids(service_user())
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                check=False,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
            if result.returncode != 0:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout}")
        finally:
            pwfile.unlink(missing_ok=True)

    def processes(self) -> list[ProcessSpec]:
        argv = [
            str(postgres_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.config.postgres.port),
            "-h",
            self.config.host,
            "-k",
            str(self.socket_dir),
            "-c",
            "max_connections=200",  # Airflow + MLflow + the catalog's pools
            "-c",
            "shared_buffers=64MB",
        ]
        # SIGINT is PostgreSQL's fast shutdown (pg_ctl's default): clients are
        # disconnected, then a clean checkpoint. SIGTERM ("smart") waits for every client
        # to leave — a test's or a notebook's idle pool kept it up until SIGKILL.
        return [
            ProcessSpec(
                "postgres",
                argv,
                cwd=self.state_dir,
                user=service_user(),
                stop_signal=signal.SIGINT,
            )
        ]

    def _connect(self, database: str = "postgres") -> psycopg2.extensions.connection:
        pg = self.config.postgres
        return psycopg2.connect(
            host=self.config.host,
            port=pg.port,
            user=pg.user,
            password=pg.password,
            dbname=database,
            connect_timeout=2,
        )

    def healthy(self) -> bool:
        try:
            with self._connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone() == (1,)
        except psycopg2.Error:
            return False

    def after_start(self) -> None:
        """Create the configured databases that do not exist yet."""
        conn = self._connect()
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT datname FROM pg_database")
                existing = {row[0] for row in cur.fetchall()}
                for database in self.config.postgres.databases:
                    if database not in existing:
                        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        finally:
            conn.close()
