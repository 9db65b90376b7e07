"""Start, check and stop the stack's services in dependency order.

``up`` is idempotent: running services are left alone, stopped ones are prepared (first
start only), started, waited for and given what they need (buckets, topics, databases).
``down`` stops, in reverse order, only processes this stack started (pid files in
``<state>/run``) and keeps every byte of data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fraudlake.stack.config import StackConfig
from fraudlake.stack.process import ProcessTable, session_memory_bytes
from fraudlake.stack.service import Service, port_open


class StackError(RuntimeError):
    """A service did not come up; the message names it and where its log is."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    healthy: bool
    ports: dict[str, int]
    urls: dict[str, str]
    login: str | None
    pids: list[int]
    memory_bytes: int


def all_services(config: StackConfig) -> list[Service]:
    """Every service, in start order (dependencies first)."""
    from fraudlake.stack.airflow import AirflowService
    from fraudlake.stack.flink import FlinkService
    from fraudlake.stack.kafka import KafkaService
    from fraudlake.stack.mlflow_server import MlflowService
    from fraudlake.stack.postgres import PostgresService
    from fraudlake.stack.ray_serve import RayServeService
    from fraudlake.stack.redis_store import RedisService
    from fraudlake.stack.s3 import S3Service

    return [
        PostgresService(config),
        RedisService(config),
        S3Service(config),
        KafkaService(config),
        FlinkService(config),
        MlflowService(config),
        AirflowService(config),
        RayServeService(config),
    ]


class Stack:
    def __init__(self, config: StackConfig, services: list[Service] | None = None) -> None:
        self.config = config
        self.services = services if services is not None else all_services(config)
        self.table = ProcessTable(config.resolved_state_dir)

    def select(self, names: Iterable[str] | None) -> list[Service]:
        """The services named (with what they require), in start order; all when None."""
        if not names:
            return list(self.services)
        by_name = {s.name: s for s in self.services}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise StackError(
                f"unknown service(s) {', '.join(unknown)}; known: {', '.join(by_name)}"
            )
        wanted: set[str] = set()

        def add(name: str) -> None:
            if name not in wanted:
                wanted.add(name)
                for dep in by_name[name].requires:
                    add(dep)

        for name in names:
            add(name)
        return [s for s in self.services if s.name in wanted]

    def is_running(self, service: Service) -> bool:
        return all(self.table.running(p.name) for p in service.processes())

    def is_partly_running(self, service: Service) -> bool:
        """Whether any process of ``service`` runs (e.g. Flink's JobManager without its
        TaskManager): then its open ports are its own, not another program's."""
        return any(self.table.running(p.name) for p in service.processes())

    def up(
        self,
        names: Iterable[str] | None = None,
        on_event: Callable[[str, str], None] = lambda name, what: None,
    ) -> None:
        """Bring the selected services up; raises :class:`StackError` naming the first
        one that fails, with the tail of its log."""
        for service in self.select(names):
            if self.is_running(service) and service.healthy():
                on_event(service.name, "already running")
                service.after_start()
                continue
            # A service that is partly up gets its missing processes started (the table
            # skips running ones); its open ports are then its own.
            busy = [
                f"{role} {port}"
                for role, port in service.ports().items()
                if port_open(self.config.host, port) and not self.is_partly_running(service)
            ]
            if busy:
                raise StackError(
                    f"{service.name}: port(s) {', '.join(busy)} on {self.config.host} already in "
                    "use by another program; stop it or change the port in infra/stack.yaml"
                )
            started = time.monotonic()
            on_event(service.name, "preparing")
            service.prepare()
            for spec in service.processes():
                self.table.start(spec)
            on_event(service.name, "waiting for health")
            self._wait_healthy(service)
            service.after_start()
            on_event(service.name, f"healthy in {time.monotonic() - started:.1f}s")

    def _wait_healthy(self, service: Service) -> None:
        deadline = time.monotonic() + service.start_timeout
        while time.monotonic() < deadline:
            if service.healthy():
                return
            dead = [p.name for p in service.processes() if not self.table.running(p.name)]
            if dead:
                raise StackError(self._failure(service, f"process {dead[0]} exited", dead[0]))
            time.sleep(0.5)
        first = service.processes()[0].name
        raise StackError(
            self._failure(service, f"not healthy after {service.start_timeout:.0f}s", first)
        )

    def _failure(self, service: Service, what: str, process: str) -> str:
        tail = "\n".join(self.table.tail(process, 20))
        return f"{service.name}: {what}; log {self.table.log_path(process)}:\n{tail}"

    def down(
        self,
        names: Iterable[str] | None = None,
        on_event: Callable[[str, str], None] = lambda name, what: None,
    ) -> None:
        """Stop the selected services (all by default) in reverse start order. A
        service that cannot even describe its processes (not installed: no jars, no
        binary) cannot have been started; it is skipped, so the ones started before it
        — e.g. by an ``up`` that failed on it — still stop."""
        selected = self.select(names) if names else list(self.services)
        for service in reversed(selected):
            try:
                specs = service.processes()
            except Exception as exc:
                on_event(service.name, f"skipped ({exc})")
                continue
            stopped = [self.table.stop_spec(p) for p in reversed(specs)]
            on_event(service.name, "stopped" if any(stopped) else "was not running")

    def memory_bytes(self) -> int:
        """PSS of every process of the stack right now (see :func:`session_memory_bytes`)."""
        pgids = {
            pid
            for service in self.services
            for spec in service.processes()
            if (pid := self.table.pid(spec.name)) is not None
        }
        return session_memory_bytes(pgids)

    def status(self) -> list[ServiceStatus]:
        out = []
        for service in self.services:
            pids = [self.table.pid(p.name) for p in service.processes()]
            running = all(pid is not None for pid in pids)
            out.append(
                ServiceStatus(
                    name=service.name,
                    running=running,
                    healthy=running and service.healthy(),
                    ports=service.ports(),
                    urls=service.urls(),
                    login=service.login(),
                    pids=[p for p in pids if p is not None],
                    memory_bytes=session_memory_bytes({p for p in pids if p is not None}),
                )
            )
        return out
