"""The small surface every stack service implements.

A service knows its processes (:meth:`Service.processes`), how to initialise its state on
first start (:meth:`Service.prepare`, idempotent), when it is healthy
(:meth:`Service.healthy`, a real request to the running server) and what to create once
it is (:meth:`Service.after_start`: buckets, topics, databases — idempotent too). The
manager does the rest: starting, waiting, stopping, status.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from pathlib import Path

from fraudlake.stack.config import StackConfig
from fraudlake.stack.process import ProcessSpec


class Service(ABC):
    #: Short name used in commands, pid and log files (``stack logs <name>``).
    name: str
    #: Names of the services that must be healthy before this one starts.
    requires: tuple[str, ...] = ()
    #: Seconds to wait for health after starting.
    start_timeout: float = 60.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    @property
    def state_dir(self) -> Path:
        """This service's own data folder inside the stack's state folder."""
        return self.config.resolved_state_dir / self.name

    @abstractmethod
    def processes(self) -> list[ProcessSpec]:
        """The long-running processes, in start order."""

    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Every port the service listens on, by role."""

    @abstractmethod
    def healthy(self) -> bool:
        """True when the service answers a real request."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Initialise state on first start (format storage, init a cluster); idempotent."""

    def after_start(self) -> None:  # noqa: B027 - optional hook
        """Create what the platform needs once healthy (buckets, topics); idempotent."""

    def urls(self) -> dict[str, str]:
        """What a person opens or points a client at, by label."""
        return {}

    def login(self) -> str | None:
        """Credentials to show in ``stack status``, if any."""
        return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
