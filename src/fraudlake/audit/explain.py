"""Why was a transaction declined? Its decision record(s) from ``audit.decisions`` with
the features the model saw, the reasons, and the lineage of the model version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import EqualTo

from fraudlake.audit.lineage import LineageError, ModelLineage, model_lineage
from fraudlake.lake.tables import DECISIONS_TABLE


class NoDecisionError(LookupError):
    """``audit.decisions`` has no record of the transaction."""


@dataclass(frozen=True)
class Explanation:
    transaction_id: int
    #: The decision record; a transaction retried after a replica died may have been
    #: published twice — the copies are identical but for when they were decided.
    decision: dict[str, Any]
    copies: int
    features: dict[str, float | None]
    reasons: list[Any]
    shadow: dict[str, Any] | None
    lineage: ModelLineage | None
    lineage_error: str | None


def explain_decision(catalog: Catalog, client: MlflowClient, transaction_id: int) -> Explanation:
    """Everything recorded about ``transaction_id``'s decision; :class:`NoDecisionError`
    when there is none (not scored, or its decisions not drained into the lake yet)."""
    try:
        table = catalog.load_table(DECISIONS_TABLE.identifier)
    except NoSuchTableError as exc:
        raise NoDecisionError(
            "audit.decisions does not exist yet: no decision has been drained from Kafka "
            "(the fraud_stream_to_lake DAG, or `fraudlake stream drain decisions`)"
        ) from exc
    rows = (
        table.scan(row_filter=EqualTo(term="transaction_id", value=transaction_id))
        .to_arrow()
        .to_pylist()
    )
    if not rows:
        raise NoDecisionError(
            f"no decision for transaction {transaction_id} in audit.decisions: was it scored, "
            "and have the decisions been drained (`fraudlake stream drain decisions`)?"
        )
    rows.sort(key=lambda r: r["decided_at"])
    first = rows[0]
    lineage, problem = None, None
    if first["model_version"] is not None:
        try:
            lineage = model_lineage(
                client, catalog, first["model_name"], int(first["model_version"])
            )
        except LineageError as exc:
            problem = str(exc)
    else:
        problem = f"decided by the fallback rules ({first['degraded_reason']}): no model"
    return Explanation(
        transaction_id=transaction_id,
        decision=first,
        copies=len(rows),
        features=json.loads(first["features"]) if first["features"] else {},
        reasons=json.loads(first["reasons"]) if first["reasons"] else [],
        shadow=json.loads(first["shadow"]) if first["shadow"] else None,
        lineage=lineage,
        lineage_error=problem,
    )
