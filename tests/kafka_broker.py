"""A real Kafka broker for tests: :class:`~fraudlake.stack.kafka.KafkaService` on free
ports in a temporary state folder, started, waited for and always stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fraudlake.stack.config import KafkaConfig, StackConfig
from fraudlake.stack.kafka import KafkaService
from fraudlake.stack.process import ProcessTable
from tests.services import free_ports

HEALTH_TIMEOUT = 90.0


@contextmanager
def running_broker(
    state_dir: Path, topics: list[str] | None = None
) -> Iterator[tuple[KafkaService, ProcessTable]]:
    """A prepared, started and healthy broker (``topics`` default: the stack's four, not yet
    created — ``after_start`` does that); stopped when the block ends, even on failure."""
    port, controller_port = free_ports(2)
    kafka = KafkaConfig(port=port, controller_port=controller_port)
    if topics is not None:
        kafka = kafka.model_copy(update={"topics": topics})
    config = StackConfig(state_dir=state_dir, kafka=kafka)
    service = KafkaService(config)
    table = ProcessTable(config.resolved_state_dir)
    service.prepare()
    (spec,) = service.processes()
    try:
        table.start(spec)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not service.healthy():
            log = "\n".join(table.tail(spec.name, 30))
            assert table.running(spec.name), f"broker exited on start:\n{log}"
            assert time.monotonic() < deadline, f"not healthy in {HEALTH_TIMEOUT}s:\n{log}"
            time.sleep(0.5)
        yield service, table
    finally:
        table.stop(spec.name)
