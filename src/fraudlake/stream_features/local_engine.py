"""The streaming features in one process: every stage's state in dictionaries.

What the plain-Python baseline consumer runs, and what the tests drive directly to hold
the stage logic to the batch engine. The PyFlink job runs the same stages, with Flink
keeping the state, the watermarks and the checkpoints.

Watermark: the newest event time seen (transaction time or label report time) minus
``out_of_orderness_us``: elements at or before it are final. With
``out_of_orderness_us=None`` the caller sets it instead (:meth:`advance_to`), e.g. per
Kafka partition as Flink does. :meth:`flush` applies everything left (end of a replay,
or a quiet stream).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from fraudlake.features.definitions import FeatureSet
from fraudlake.stream_features.entity_stage import DEFAULT_GRACE_US, Element, EntityState
from fraudlake.stream_features.events import KnownFraud, Label, Transaction
from fraudlake.stream_features.label_join import LabelJoinState, join_label, join_transaction
from fraudlake.stream_features.plan import build_stages


class LocalFeatureEngine:
    def __init__(
        self,
        features: FeatureSet,
        out_of_orderness_us: int | None = 0,
        grace_us: int = DEFAULT_GRACE_US,
        on_fraud: Callable[[KnownFraud], None] = lambda fraud: None,
    ) -> None:
        """``on_fraud`` sees each fraud once, when its label has met its transaction (the
        moment the online store needs it)."""
        self.stages = build_stages(features, grace_us)
        self.out_of_orderness_us = out_of_orderness_us
        self.on_fraud = on_fraud
        self._states: list[dict[str, EntityState]] = [defaultdict(EntityState) for _ in self.stages]
        self._waiting: list[set[str]] = [set() for _ in self.stages]
        self._joins: dict[int, LabelJoinState] = defaultdict(LabelJoinState)
        self._newest: int | None = None
        self._watermark: int | None = None

    @property
    def late_elements(self) -> int:
        return sum(s.late_elements for states in self._states for s in states.values())

    def add_transaction(self, tx: Transaction) -> list[Element]:
        """Take a transaction; returns the transactions whose features are now complete."""
        done = self._offer(0, Element(tx.event_us, transaction=tx))
        fraud = join_transaction(self._joins[tx.transaction_id], tx)
        if fraud is not None:
            done += self._offer_fraud(Element(fraud.reported_us, fraud=fraud))
        return done + self._see(tx.event_us)

    def add_label(self, label: Label) -> list[Element]:
        done: list[Element] = []
        fraud = join_label(self._joins[label.transaction_id], label)
        if fraud is not None:
            done += self._offer_fraud(Element(fraud.reported_us, fraud=fraud))
        return done + self._see(label.reported_us)

    def flush(self) -> list[Element]:
        """Apply everything still pending, whatever the watermark."""
        return self._advance(None)

    def advance_to(self, watermark_us: int) -> list[Element]:
        """Every event time at or before ``watermark_us`` is final; a watermark never goes
        back, so an older one is ignored."""
        if self._watermark is not None and watermark_us <= self._watermark:
            return []
        self._watermark = watermark_us
        return self._advance(watermark_us)

    def _see(self, time_us: int) -> list[Element]:
        if self.out_of_orderness_us is None:
            return []
        if self._newest is None or time_us > self._newest:
            self._newest = time_us
            return self.advance_to(time_us - self.out_of_orderness_us)
        return []

    def _offer_fraud(self, element: Element) -> list[Element]:
        assert element.fraud is not None
        self.on_fraud(element.fraud)
        done: list[Element] = []
        for i, stage in enumerate(self.stages):
            if stage.takes_labels:
                done += self._offer(i, Element(element.time_us, fraud=element.fraud))
        return done

    def _offer(self, i: int, element: Element) -> list[Element]:
        """Offer to stage ``i``; late transactions go straight on to the next stages."""
        stage = self.stages[i]
        key = stage.key_of(element)
        out = stage.offer(self._states[i][key], element)
        if self._states[i][key].pending:
            self._waiting[i].add(key)
        return self._forward(i, out)

    def _forward(self, i: int, elements: list[Element]) -> list[Element]:
        if i + 1 == len(self.stages):
            return elements
        done: list[Element] = []
        for element in elements:
            done += self._offer(i + 1, element)
        return done

    def _advance(self, watermark: int | None) -> list[Element]:
        done: list[Element] = []
        for i, stage in enumerate(self.stages):
            states = self._states[i]
            out: list[Element] = []
            for key in list(self._waiting[i]):
                state = states[key]
                out += stage.advance(state, watermark)
                if not state.pending:
                    self._waiting[i].discard(key)
            out.sort(key=_output_order)
            done += self._forward(i, out)
        return done


def _output_order(element: Element) -> tuple[int, int]:
    return (element.time_us, element.transaction.transaction_id if element.transaction else 0)
