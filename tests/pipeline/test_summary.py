"""The summary's view of the loop: decisions by kind and model, and how many proved fraud."""

from __future__ import annotations

import pyarrow as pa

from fraudlake import schemas
from fraudlake.pipeline.summary import DecisionOutcome, decision_outcomes


def test_decisions_are_counted_with_the_frauds_their_labels_revealed() -> None:
    decisions = pa.table(
        {
            "transaction_id": [1, 2, 3, 4, 5, 6],
            "decision": ["approve", "decline", "approve", "review", "decline", "approve"],
            "model_version": ["3", "3", "3", "3", None, "4"],
        }
    )
    labels = pa.Table.from_pylist(
        [
            {"transaction_id": 2, "is_fraud": True, "fraud_scenario": "x", "reported_at": None},
            # reported twice (a batch and the stream): still one fraud
            {"transaction_id": 2, "is_fraud": True, "fraud_scenario": "x", "reported_at": None},
            {"transaction_id": 3, "is_fraud": True, "fraud_scenario": "x", "reported_at": None},
            {"transaction_id": 4, "is_fraud": False, "fraud_scenario": "", "reported_at": None},
        ],
        schema=schemas.LABELS.remove(schemas.LABELS.get_field_index("reported_at")).append(
            pa.field("reported_at", schemas.TS)
        ),
    )
    assert decision_outcomes(decisions, labels) == [
        DecisionOutcome("decline", "3", 1, 1),
        DecisionOutcome("decline", "rules", 1, 0),
        DecisionOutcome("review", "3", 1, 0),  # investigated, not fraud
        DecisionOutcome("approve", "3", 2, 1),  # a missed fraud
        DecisionOutcome("approve", "4", 1, 0),
    ]
    no_labels = decision_outcomes(decisions, schemas.LABELS.empty_table())
    assert [(o.decisions, o.labelled_fraud) for o in no_labels] == [
        (1, 0),
        (1, 0),
        (1, 0),
        (2, 0),
        (1, 0),
    ]
