"""A real Flink 2.2 session cluster (JobManager + TaskManager) from the distribution in
flink_jobs/.venv, started alone through the stack manager on its own ports and state
folder: health, loopback-only listeners, state folders, idempotent ``up``, a TaskManager
coming back, and a clean stop.

No mocks and no skip: without the PyFlink environment or the connector jar the tests
fail with the service's message naming `make install`, which provides both.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fraudlake.stack.config import FlinkConfig, StackConfig
from fraudlake.stack.flink import FlinkService, _java_major, connector_jars, flink_home
from fraudlake.stack.manager import Stack
from fraudlake.stack.process import ProcessTable, session_pids
from fraudlake.stack.service import port_open
from tests.services import stack_processes

#: Added to every default Flink port: clear of a developer's stack (+0) and of the
#: integration tests' stack (+100).
PORT_OFFSET = 200
LOOPBACK = "127.0.0.1"


def _test_config(state_dir: Path, **changes: object) -> StackConfig:
    ports = {
        k: v + PORT_OFFSET for k, v in FlinkConfig().model_dump().items() if k.endswith("port")
    }
    return StackConfig(state_dir=state_dir, flink=FlinkConfig(**{**ports, **changes}))


# -- without a cluster ------------------------------------------------------------------


def test_config_yaml_binds_loopback_and_takes_the_stack_config(tmp_path: Path) -> None:
    config = _test_config(tmp_path, task_slots=3, checkpoint_interval_s=2.5)
    service = FlinkService(config)
    service.prepare()
    conf = yaml.safe_load(service.config_path.read_text())
    f = config.flink

    for key in (
        "jobmanager.rpc.address",
        "jobmanager.bind-host",
        "taskmanager.host",
        "taskmanager.bind-host",
        "rest.address",
        "rest.bind-address",
    ):
        assert conf[key] == LOOPBACK, key
    assert conf["rest.port"] == f.rest_port
    assert conf["jobmanager.rpc.port"] == f.rpc_port
    assert int(conf["blob.server.port"]) == f.blob_port
    assert int(conf["taskmanager.rpc.port"]) == f.taskmanager_rpc_port
    assert conf["taskmanager.data.port"] == f.taskmanager_data_port
    assert conf["taskmanager.numberOfTaskSlots"] == 3
    assert conf["parallelism.default"] == 1
    assert conf["jobmanager.memory.process.size"] == "1024m"
    assert conf["taskmanager.memory.process.size"] == "1536m"

    state = config.resolved_state_dir / "flink"
    assert conf["execution.checkpointing.dir"] == (state / "checkpoints").as_uri()
    assert conf["execution.checkpointing.savepoint-dir"] == (state / "savepoints").as_uri()
    assert conf["execution.checkpointing.interval"] == "2500 ms"
    assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert conf["restart-strategy.type"] == "fixed-delay"

    python = Path(conf["python.executable"])
    assert python == Path(conf["python.client.executable"])
    assert python.parts[-4:] == ("flink_jobs", ".venv", "bin", "python") and python.exists()
    assert conf["pipeline.jars"] == [jar.as_uri() for jar in connector_jars()]
    assert any("flink-sql-connector-kafka-" in jar for jar in conf["pipeline.jars"])
    # the distribution's Java 17 flags are carried over, and Java 17 is the one used
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in conf["env.java.opts.all"]
    assert _java_major(Path(conf["env.java.home"])) == 17
    assert (service.conf_dir / "log4j-console.properties").exists()
    assert (service.conf_dir / "logback-console.xml").exists()

    # the scripts get our folders, and each process its own metric query port
    jobmanager, taskmanager = service.processes()
    for spec, port in (
        (jobmanager, f.jobmanager_metrics_port),
        (taskmanager, f.taskmanager_metrics_port),
    ):
        assert spec.env["FLINK_CONF_DIR"] == str(service.conf_dir)
        assert spec.env["FLINK_LOG_DIR"] == str(service.log_dir)
        assert spec.env["FLINK_PID_DIR"] == str(service.pid_dir)
        assert _java_major(Path(spec.env["JAVA_HOME"])) == 17
        assert list(spec.argv[-3:]) == [
            "start-foreground",
            "-D",
            f"metrics.internal.query-service.port={port}",
        ]
    assert jobmanager.argv[1].endswith("/bin/jobmanager.sh")
    assert taskmanager.argv[1].endswith("/bin/taskmanager.sh")

    service.prepare()  # idempotent
    assert yaml.safe_load(service.config_path.read_text()) == conf
    assert config.client_env()["FRAUDLAKE_FLINK_URL"] == f"http://{LOOPBACK}:{f.rest_port}"


def test_missing_installation_names_make_install(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="make install"):
        flink_home(tmp_path)
    with pytest.raises(RuntimeError, match="make install"):
        connector_jars(tmp_path)


# -- a real cluster ---------------------------------------------------------------------


def _listening_sockets() -> dict[int, tuple[str, int]]:
    """Every listening TCP socket on the machine: inode -> (address, port). IPv4-mapped
    IPv6 addresses (Java's dual-stack sockets) are given as IPv4."""
    out: dict[int, tuple[str, int]] = {}
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_addr)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(socket.inet_ntop(family, raw))
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            out[int(fields[9])] = (str(address), int(hex_port, 16))
    return out


def _listeners(pids: list[int]) -> set[tuple[str, int]]:
    """(address, port) of every socket the processes ``pids`` listen on."""
    listening = _listening_sockets()
    found = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[len("socket:[") : -1])
                if inode in listening:
                    found.add(listening[inode])
    return found


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f}s"
        time.sleep(0.2)


@pytest.mark.slow
def test_cluster_serves_binds_loopback_and_stops_cleanly(tmp_path: Path) -> None:
    config = _test_config(tmp_path, task_slots=3)
    service = FlinkService(config)
    stack = Stack(config, [service])
    table = ProcessTable(config.resolved_state_dir)
    events: list[str] = []
    pgids: set[int] = set()
    try:
        stack.up(on_event=lambda name, what: events.append(what))

        overview = service.overview()
        assert overview is not None
        assert overview["taskmanagers"] == 1 and overview["slots-total"] == 3
        assert overview["flink-version"].startswith("2.2")
        assert service.urls() == {"Flink UI": config.flink_url}

        # Only the pinned ports, all on 127.0.0.1, and the recorded pids are the JVMs
        # (the scripts exec them; nothing daemonises).
        recorded = [table.pid(spec.name) for spec in service.processes()]
        pgids = {p for p in recorded if p is not None}
        assert len(pgids) == 2
        pids = session_pids(pgids)
        assert sorted(pids) == sorted(pgids)
        for pid in pids:
            assert Path(f"/proc/{pid}/exe").resolve().name == "java"
        assert _listeners(pids) == {(LOOPBACK, port) for port in service.ports().values()}

        for folder in ("conf", "logs", "checkpoints", "savepoints", "run", "tmp"):
            assert (service.state_dir / folder).is_dir(), folder
        assert (service.conf_dir / "config.yaml").exists()
        logs = {p.name for p in service.log_dir.glob("*.log")}
        assert any("standalonesession" in name for name in logs), logs
        assert any("taskexecutor" in name for name in logs), logs

        # up again: nothing restarted
        before = {spec.name: table.pid(spec.name) for spec in service.processes()}
        stack.up(on_event=lambda name, what: events.append(what))
        assert events[-1] == "already running"
        assert {spec.name: table.pid(spec.name) for spec in service.processes()} == before

        # A stopped TaskManager (the JobManager still up, its ports open) is started
        # again by `up` and registers anew.
        assert table.stop("flink-taskmanager")
        _wait(lambda: (service.overview() or {}).get("taskmanagers") == 0, 30, "TM deregistered")
        assert not service.healthy()
        stack.up()
        assert table.pid("flink-jobmanager") == before["flink-jobmanager"]
        new_taskmanager = table.pid("flink-taskmanager")
        assert new_taskmanager not in (None, before["flink-taskmanager"])
        pgids.add(new_taskmanager or 0)
        assert (service.overview() or {}).get("taskmanagers") == 1
    finally:
        stack.down()

    state = config.resolved_state_dir
    assert stack_processes(state) == []
    assert session_pids(pgids) == []
    assert not any(port_open(LOOPBACK, port) for port in service.ports().values())
    assert not service.healthy()
    assert all(not table.running(spec.name) for spec in service.processes())
