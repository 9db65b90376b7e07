"""Join fraud labels to their transactions, one transaction id at a time.

Labels on Kafka carry only the transaction id; a label window needs the labelled
transaction's entity keys and event time. Keyed by transaction id, the join remembers
the transaction and the earliest fraud report seen, and emits one
:class:`~fraudlake.stream_features.events.KnownFraud` as soon as it has both. Reports
after that one for the same transaction change nothing (investigations report a fraud
once; a repeat would count the fraud twice). Labels that clear a transaction
(``is_fraud`` false) count for nothing, as in the batch engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from fraudlake.stream_features.events import KnownFraud, Label, Transaction


@dataclass(slots=True)
class LabelJoinState:
    transaction: Transaction | None = None
    reported_us: int | None = None
    emitted: bool = False


def join_transaction(state: LabelJoinState, transaction: Transaction) -> KnownFraud | None:
    state.transaction = transaction
    return _emit(state)


def join_label(state: LabelJoinState, label: Label) -> KnownFraud | None:
    if not label.is_fraud or state.emitted:
        return None
    if state.reported_us is None or label.reported_us < state.reported_us:
        state.reported_us = label.reported_us
    return _emit(state)


def _emit(state: LabelJoinState) -> KnownFraud | None:
    if state.emitted or state.transaction is None or state.reported_us is None:
        return None
    state.emitted = True
    return KnownFraud(state.transaction, state.reported_us)
