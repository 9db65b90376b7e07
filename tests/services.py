"""Real stack services for tests, one at a time: each on free ports in a temporary state
folder, started through the stack's own :class:`~fraudlake.stack.service.Service`,
waited for, and always stopped."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from fraudlake.stack.config import RedisConfig, StackConfig, offset_ports_env
from fraudlake.stack.process import ProcessTable
from fraudlake.stack.redis_store import RedisService
from fraudlake.stack.scratch import processes_mentioning as stack_processes
from fraudlake.stack.service import Service

HEALTH_TIMEOUT = 90.0
__all__ = ["offset_ports_env", "stack_processes"]


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel just handed out (all held open until all are chosen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextmanager
def running(service: Service) -> Iterator[ProcessTable]:
    """``service`` prepared, started and healthy; stopped when the block ends."""
    table = ProcessTable(service.config.resolved_state_dir)
    service.prepare()
    specs = service.processes()
    try:
        for spec in specs:
            table.start(spec)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not service.healthy():
            for spec in specs:
                log = "\n".join(table.tail(spec.name, 30))
                assert table.running(spec.name), f"{spec.name} exited on start:\n{log}"
            assert time.monotonic() < deadline, f"{service.name} not healthy in time"
            time.sleep(0.3)
        service.after_start()
        yield table
    finally:
        for spec in reversed(specs):
            table.stop_spec(spec)


@contextmanager
def running_redis(state_dir: Path) -> Iterator[redis.Redis]:
    """A real redis-server of the stack on a free port; yields a client of it."""
    (port,) = free_ports(1)
    config = StackConfig(state_dir=state_dir, redis=RedisConfig(port=port))
    with running(RedisService(config)):
        client = redis.Redis(host=config.host, port=port)
        try:
            yield client
        finally:
            client.close()
