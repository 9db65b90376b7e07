"""What fraudlake writes into every Iceberg snapshot summary, and which run made a commit.

A table's own history is the ledger an auditor reads (``fraudlake audit snapshots``), so
every writer commits with :func:`commit_properties`: the run label plus whatever says
what the commit was (a batch, a sink drain, an erasure, an audit action).
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

#: The run that committed the snapshot (see :func:`run_label`).
RUN_PROPERTY = "fraudlake.run"
#: A published batch's id and content hash (``lake.batches``).
BATCH_ID = "fraudlake.batch-id"
BATCH_HASH = "fraudlake.batch-hash"
#: The batch a delete withdrew.
RETIRED = "fraudlake.retired-batch"
#: Which topic a stream sink drained, and how many records it sent to dead letters.
SINK_TOPIC = "fraudlake.sink.topic"
SINK_DEAD_LETTERS = "fraudlake.sink.dead-letters"
#: The audit command an ``audit.actions`` row records.
AUDIT_ACTION = "fraudlake.audit-action"
#: The pseudonym of the customer an erasure removed (never the id itself).
ERASURE_PROPERTY = "fraudlake.erasure"
#: Prefix of the source-snapshot properties of a derived table (``features.*``).
SOURCE_PREFIX = "fraudlake.source."
#: The feature names a ``features.transactions`` snapshot holds, comma-separated.
FEATURES_PROPERTY = "fraudlake.features"


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


def commit_properties(
    extra: Mapping[str, str] | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The summary properties of one fraudlake commit: the run label, then ``extra``."""
    return {RUN_PROPERTY: run_label(environ), **(extra or {})}
