"""Where ``make install`` put the stack's binaries (Kafka and Flink jars, the PyFlink
environment): the installation, not the project a stack serves."""

from __future__ import annotations

import os
from pathlib import Path


def install_root() -> Path:
    """The checkout this package is imported from (it is installed editable from
    ``src/``, and ``.tools/`` and ``flink_jobs/`` sit beside it); else
    ``FRAUDLAKE_PROJECT_ROOT``; else the working directory."""
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "infra" / "stack.yaml").exists():
        return checkout
    env = os.environ.get("FRAUDLAKE_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    return Path.cwd().resolve()
