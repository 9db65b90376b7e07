"""Which pipeline run made a commit: one summary property on every snapshot we write."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

#: Snapshot summary property naming the run that committed the snapshot.
RUN_PROPERTY = "fraudlake.run"


def run_label(environ: Mapping[str, str] | None = None) -> str:
    """``airflow:<dag>/<run id>`` inside an Airflow task (Airflow exports its context as
    ``AIRFLOW_CTX_*``), else ``$FRAUDLAKE_RUN_ID`` when set (e.g. ``dvc:<stage>``), else
    ``cli:<user>@<host>``."""
    env = os.environ if environ is None else environ
    dag, run = env.get("AIRFLOW_CTX_DAG_ID"), env.get("AIRFLOW_CTX_DAG_RUN_ID")
    if dag and run:
        return f"airflow:{dag}/{run}"
    if env.get("FRAUDLAKE_RUN_ID"):
        return env["FRAUDLAKE_RUN_ID"]
    return f"cli:{os_user()}@{socket.gethostname()}"


def os_user() -> str:
    """The OS user name, or ``"unknown"`` (no passwd entry in some containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def run_summary(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The summary properties every fraudlake commit carries."""
    return {RUN_PROPERTY: run_label(environ)}
