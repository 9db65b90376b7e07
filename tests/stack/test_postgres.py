"""The stack's PostgreSQL stops at once and cleanly, even with clients still connected
(as Airflow's, MLflow's and the catalog's pools are when a stack goes down)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from fraudlake.stack.config import PostgresConfig, StackConfig
from fraudlake.stack.postgres import PostgresService
from tests.services import free_ports, running


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # not under pytest's 0700 temp root: PostgreSQL runs as its own user when we are root
    root = Path(tempfile.mkdtemp(prefix="fraudlake-pg-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_stop_disconnects_clients_and_shuts_down_cleanly(
    state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (port,) = free_ports(1)
    config = StackConfig(state_dir=state_dir, postgres=PostgresConfig(port=port))
    service = PostgresService(config)
    with running(service) as table:
        pg = config.postgres
        client = psycopg2.connect(
            host=config.host, port=port, user=pg.user, password=pg.password, dbname="postgres"
        )
        with client.cursor() as cursor:  # then idle, as a connection pool keeps it
            cursor.execute("SELECT 1")
        (spec,) = service.processes()
        with caplog.at_level(logging.INFO, logger="fraudlake.stack.process"):
            assert table.stop_spec(spec)

    # stopped by its own signal, not killed after the grace (a smart shutdown waits for
    # the idle client until SIGKILL, and the next start must recover from a crash)
    assert [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records] == [
        (logging.INFO, "stopped postgres")
    ]
    log = "\n".join(table.tail("postgres", 40))
    assert "received fast shutdown request" in log
    assert "database system is shut down" in log
    with pytest.raises(psycopg2.OperationalError), client.cursor() as cursor:
        cursor.execute("SELECT 1")
