"""Stack configuration (file + environment) and the manager's checks, no servers needed."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from fraudlake.stack.config import StackConfig
from fraudlake.stack.manager import Stack, StackError
from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service

REPO = Path(__file__).resolve().parents[2]


def test_file_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FRAUDLAKE_STACK_CONFIG", str(REPO / "infra" / "stack.yaml"))
    monkeypatch.setenv("FRAUDLAKE_STACK_POSTGRES__PORT", "55999")
    monkeypatch.setenv("FRAUDLAKE_STACK_STATE_DIR", str(tmp_path))
    config = StackConfig()
    assert config.postgres.port == 55999  # environment wins
    assert config.postgres.user == "fraudlake"  # the rest of the section from the file
    assert config.resolved_state_dir == tmp_path
    env = config.client_env()
    assert env["FRAUDLAKE_CATALOG_URI"].endswith("@127.0.0.1:55999/iceberg")
    assert env["FRAUDLAKE_WAREHOUSE"] == f"s3://{config.s3.lake_bucket}/warehouse"
    assert env["AWS_ENDPOINT_URL"] == env["FRAUDLAKE_S3_ENDPOINT"] == config.s3_endpoint
    assert env["FRAUDLAKE_MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{config.mlflow.port}"


class _Sleeper(Service):
    """A stand-in service (a real process) to exercise the manager's own logic."""

    def __init__(self, config: StackConfig, name: str, port: int, requires: tuple[str, ...] = ()):
        super().__init__(config)
        self.name = name
        self.port = port
        self.requires = requires

    def processes(self) -> list[ProcessSpec]:
        script = "import time; time.sleep(600)"
        return [ProcessSpec(self.name, [sys.executable, "-c", script])]

    def ports(self) -> dict[str, int]:
        return {"main": self.port}

    def healthy(self) -> bool:
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_select_adds_requirements_in_start_order(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    a = _Sleeper(config, "a", _free_port())
    b = _Sleeper(config, "b", _free_port(), requires=("a",))
    c = _Sleeper(config, "c", _free_port())
    stack = Stack(config, [a, b, c])
    assert [s.name for s in stack.select(["b"])] == ["a", "b"]
    assert [s.name for s in stack.select(None)] == ["a", "b", "c"]
    with pytest.raises(StackError, match=r"unknown service.*nope"):
        stack.select(["nope"])


def test_up_refuses_a_port_taken_by_another_program(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = Stack(config, [_Sleeper(config, "svc", port)])
        with pytest.raises(StackError, match=f"port.*{port}.*already in use"):
            stack.up()
        assert not stack.table.running("svc")  # nothing was started


def test_up_down_up_keeps_state_and_stops_everything(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    stack = Stack(config, [_Sleeper(config, "svc", _free_port())])
    events: list[str] = []
    stack.up(on_event=lambda name, what: events.append(what))
    pid = stack.table.pid("svc")
    stack.up(on_event=lambda name, what: events.append(what))  # idempotent
    assert stack.table.pid("svc") == pid and "already running" in events
    stack.down()
    assert stack.table.pid("svc") is None


class _NotInstalled(_Sleeper):
    def processes(self) -> list[ProcessSpec]:
        raise RuntimeError("jars not found; run `make install`")


def test_a_failed_up_stops_what_it_started(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    first = _Sleeper(config, "first", _free_port())
    stack = Stack(config, [first, _NotInstalled(config, "broken", _free_port())])
    try:
        with pytest.raises(RuntimeError, match="jars not found"):
            stack.up()
        assert stack.table.running("first")
    finally:
        events: list[tuple[str, str]] = []
        stack.down(on_event=lambda name, what: events.append((name, what)))
    assert stack.table.pid("first") is None
    assert ("broken", "skipped (jars not found; run `make install`)") in events
