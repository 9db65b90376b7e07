"""A throwaway stack beside the developer's own, for tests and benchmarks.

Every port moved by an offset (:func:`~fraudlake.stack.config.offset_ports_env`), the
state in a folder of the caller's, the environment restored afterwards, and a check that
``down`` left no process of it running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from fraudlake.stack.config import StackConfig, offset_ports_env
from fraudlake.stack.install import install_root
from fraudlake.stack.manager import Stack
from fraudlake.stack.process import command_line
from fraudlake.stack.service import Service


@contextmanager
def environment(overrides: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``overrides`` inside the block, as it was after it."""
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def processes_mentioning(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path`` (a stack's state folder:
    every process of it does, by construction)."""
    commands = (command_line(int(d.name)) for d in Path("/proc").glob("[0-9]*"))
    return [text for text in commands if str(path) in text]


@contextmanager
def scratch_stack(
    root: Path,
    port_offset: int,
    services: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    make_services: Callable[[StackConfig], list[Service]] | None = None,
) -> Iterator[Stack]:
    """Start ``services`` (None: all) with state in ``root/state`` and every port moved
    by ``port_offset``, plus ``env`` (more ``FRAUDLAKE_*`` settings); yield the stack;
    stop it. ``make_services`` builds the service objects themselves instead of the
    stack's own (started in the order given; ``services`` then selects among them).
    Raises RuntimeError when a process of it outlives ``down``. The caller owns ``root``
    (and removes it, or keeps it to read the logs)."""
    overrides = {
        **offset_ports_env(port_offset),
        "FRAUDLAKE_STACK_STATE_DIR": str(root / "state"),
        "FRAUDLAKE_STACK_CONFIG": str(install_root() / "infra" / "stack.yaml"),
        **(env or {}),
    }
    with environment(overrides):
        config = StackConfig()
        stack = Stack(config, make_services(config) if make_services else None)
        try:
            stack.up(services)
            yield stack
        finally:
            stack.down(services)
            leftovers = processes_mentioning(stack.config.resolved_state_dir)
            if leftovers:
                raise RuntimeError(f"processes left after stack down: {leftovers}")
