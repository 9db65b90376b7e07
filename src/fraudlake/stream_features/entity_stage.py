"""One entity's window and label features over a stream, one key at a time.

An :class:`EntityStage` holds the feature definitions of one entity (card, terminal,
customer-terminal pair); an :class:`EntityState` is what it remembers for one key of it
(the key's transactions and known frauds, and what waits for the watermark). The
functions are pure and engine-free: the PyFlink job keeps an ``EntityState`` per key in
Flink state and calls them from a KeyedProcessFunction; the single-process engine of
:mod:`~fraudlake.stream_features.local_engine` keeps them in a dict.

Semantics (DESIGN.md, the same as the batch engine): a transaction at ``t`` sees the
key's transactions with event time in ``[t - W, t)`` and the frauds reported before
``t``. Event time decides, not arrival:

* an element waits in ``pending`` until the watermark passes its event time, then the
  key's elements are applied in event-time order; at each instant the features of the
  transactions at that instant are computed first, from everything strictly earlier,
  then that instant's transactions and labels join the history;
* **late** — an element older than the newest instant the key already applied — is not
  dropped: a late transaction gets its own features at once, exactly (the history keeps
  ``grace`` beyond the widest window), marked ``late``, and then joins the history. Rows
  already emitted for later transactions are not revised; a late label counts only for
  transactions after it arrives. The watermark's out-of-orderness bound decides how
  much disorder is absorbed without any of this.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from fraudlake.features.definitions import LabelWindowDef, WindowDef, window_seconds
from fraudlake.features.window_values import (
    FloatArray,
    IntArray,
    label_feature,
    label_value,
    window_feature,
    window_value,
)
from fraudlake.stream_features.events import KnownFraud, Transaction

US = 1_000_000
#: History kept beyond the widest window, so late elements still find theirs.
DEFAULT_GRACE_US = 86_400 * US


@dataclass(slots=True)
class Element:
    """A transaction on its way through the stages (``features`` fills up stage by stage),
    or a fraud label for a label window. ``flushed``: the stage before applied it
    because the stream went quiet, not because the watermark passed it (engines that
    run the stages apart use it to pass such a flush on without waiting again)."""

    time_us: int
    transaction: Transaction | None = None
    fraud: KnownFraud | None = None
    features: dict[str, float] = field(default_factory=dict)
    late: bool = False
    flushed: bool = False


@dataclass(slots=True)
class EntityState:
    """What one key remembers: its applied transactions (sorted event times and cents),
    its known frauds (event time of the fraud, when it was reported), the elements not
    yet applied, and the newest instant applied."""

    times: list[int] = field(default_factory=list)
    cents: list[int] = field(default_factory=list)
    fraud_times: list[int] = field(default_factory=list)
    fraud_reported: list[int] = field(default_factory=list)
    pending: list[Element] = field(default_factory=list)
    applied_until: int | None = None
    late_elements: int = 0

    def add_transaction(self, time_us: int, cents: int) -> None:
        i = bisect_right(self.times, time_us)
        self.times.insert(i, time_us)
        self.cents.insert(i, cents)

    def add_fraud(self, time_us: int, reported_us: int) -> None:
        i = bisect_right(self.fraud_times, time_us)
        self.fraud_times.insert(i, time_us)
        self.fraud_reported.insert(i, reported_us)

    def window(self, start: int, end: int) -> tuple[int, int]:
        """Count and cents of the transactions with event time in ``[start, end)``."""
        lo, hi = bisect_left(self.times, start), bisect_left(self.times, end)
        return hi - lo, sum(self.cents[lo:hi])

    def frauds_known(self, start: int, end: int, before: int) -> int:
        """Frauds with event time in ``[start, end)`` reported strictly before ``before``."""
        lo, hi = bisect_left(self.fraud_times, start), bisect_left(self.fraud_times, end)
        return sum(1 for r in self.fraud_reported[lo:hi] if r < before)

    def prune(self, before: int) -> None:
        """Forget history with event time before ``before``."""
        cut = bisect_left(self.times, before)
        if cut:
            del self.times[:cut], self.cents[:cut]
        cut = bisect_left(self.fraud_times, before)
        if cut:
            del self.fraud_times[:cut], self.fraud_reported[:cut]


class EntityStage:
    """The window and label-window features of one entity (one key space)."""

    def __init__(
        self,
        entity: str,
        keys: tuple[str, ...],
        windows: list[WindowDef],
        label_windows: list[LabelWindowDef],
        grace_us: int = DEFAULT_GRACE_US,
    ) -> None:
        self.entity = entity
        self.keys = keys
        self.windows = windows
        self.label_windows = label_windows
        spans = [window_seconds(w) for d in windows for w in d.windows]
        spans += [d.delay_seconds + window_seconds(w) for d in label_windows for w in d.windows]
        self.span_us = max(spans) * US
        self.grace_us = grace_us
        self._window_plan: list[tuple[int, list[tuple[str, str]]]] = [
            (window_seconds(w) * US, [(d.feature_name(a, w), a) for a in d.aggregations])
            for d in windows
            for w in d.windows
        ]
        self._label_plan: list[tuple[int, int, list[tuple[str, str]]]] = [
            (
                d.delay_seconds * US,
                window_seconds(w) * US,
                [(d.feature_name(a, w), a) for a in d.aggregations],
            )
            for d in label_windows
            for w in d.windows
        ]
        #: The transaction ranges :meth:`values_of` needs, as ``(start, end)`` offsets back
        #: from ``t`` (the range ``[t - start, t - end)``): each window's, then each label
        #: window's.
        self.transaction_ranges: list[tuple[int, int]] = [
            (width, 0) for width, _ in self._window_plan
        ] + [(delay + width, delay) for delay, width, _ in self._label_plan]
        #: The fraud ranges, one per label window, as offsets like the above.
        self.fraud_ranges: list[tuple[int, int]] = [
            (delay + width, delay) for delay, width, _ in self._label_plan
        ]
        # Per feature: name, aggregation, is-label, and where its inputs sit in
        # ``values_of``'s arguments (the count; then the cents, or the fraud count).
        self._outputs: list[tuple[str, str, bool, int, int]] = []
        for i, (_, names) in enumerate(self._window_plan):
            self._outputs += [(name, agg, False, 2 * i, 2 * i + 1) for name, agg in names]
        for k, (_, _, names) in enumerate(self._label_plan):
            count_at = 2 * (len(self._window_plan) + k)
            self._outputs += [(name, agg, True, count_at, k) for name, agg in names]

    @property
    def takes_labels(self) -> bool:
        return bool(self.label_windows)

    @property
    def names(self) -> list[str]:
        return [n for d in self.windows for n in d.names] + [
            n for d in self.label_windows for n in d.names
        ]

    def key_of(self, element: Element) -> str:
        if element.transaction is not None:
            return element.transaction.key(self.keys)
        assert element.fraud is not None
        return element.fraud.transaction.key(self.keys)

    def values(self, state: EntityState, t: int) -> dict[str, float]:
        """This stage's features of a transaction at ``t`` from ``state``'s history."""
        sums: list[int] = []
        for start, end in self.transaction_ranges:
            sums += state.window(t - start, t - end)
        frauds = [state.frauds_known(t - start, t - end, t) for start, end in self.fraud_ranges]
        return self.values_of(sums, frauds)

    def values_of(self, sums: Sequence[int], frauds: Sequence[int]) -> dict[str, float]:
        """This stage's features from a transaction's raw aggregates, however they were
        found: ``sums`` holds the count and the cents of each :attr:`transaction_ranges`
        range in turn, ``frauds`` the frauds reported before ``t`` in each
        :attr:`fraud_ranges` range."""
        out: dict[str, float] = {}
        for name, agg, label, count_at, other_at in self._outputs:
            if label:
                out[name] = label_value(agg, frauds[other_at], sums[count_at])
            else:
                out[name] = window_value(agg, sums[count_at], sums[other_at])
        return out

    def columns_of(self, sums: IntArray, frauds: IntArray) -> dict[str, FloatArray]:
        """:meth:`values_of` for many transactions at once (row ``i`` of ``sums`` and
        ``frauds`` is transaction ``i``'s): one array per feature, bit for bit the
        values :meth:`values_of` gives (the same IEEE operations, in array form)."""
        out: dict[str, FloatArray] = {}
        for name, agg, label, count_at, other_at in self._outputs:
            if label:
                out[name] = label_feature(agg, frauds[:, other_at], sums[:, count_at])
            else:
                out[name] = window_feature(agg, sums[:, count_at], sums[:, other_at])
        return out

    def offer(self, state: EntityState, element: Element) -> list[Element]:
        """Take one element for its key; returns what it completes now (only a late
        transaction completes on arrival — the rest wait for :meth:`advance`)."""
        if state.applied_until is None or element.time_us >= state.applied_until:
            state.pending.append(element)
            return []
        state.late_elements += 1
        if element.transaction is None:
            self._apply(state, element)
            return []
        element.features.update(self.values(state, element.time_us))
        element.late = True
        self._apply(state, element)
        return [element]

    def advance(self, state: EntityState, watermark_us: int | None) -> list[Element]:
        """Apply every pending element with event time ≤ ``watermark_us`` (None: all of
        them, e.g. on a quiet stream) in event-time order; returns their transactions
        with this stage's features added, in (event time, transaction id) order."""
        if watermark_us is None:
            due, state.pending = state.pending, []
        else:
            due = [e for e in state.pending if e.time_us <= watermark_us]
            if not due:
                return []
            state.pending = [e for e in state.pending if e.time_us > watermark_us]
        if not due:
            return []
        due.sort(key=_order)
        done: list[Element] = []
        i = 0
        while i < len(due):
            t = due[i].time_us
            j = i
            while j < len(due) and due[j].time_us == t:
                j += 1
            group = due[i:j]
            for element in group:  # features first, from strictly earlier history …
                if element.transaction is not None:
                    element.features.update(self.values(state, t))
                    done.append(element)
            for element in group:  # … then the instant joins the history
                self._apply(state, element)
            state.applied_until = t
            i = j
        state.prune(state.applied_until - self.span_us - self.grace_us)  # type: ignore[operator]
        return done

    @staticmethod
    def _apply(state: EntityState, element: Element) -> None:
        if element.transaction is not None:
            state.add_transaction(element.time_us, element.transaction.cents)
        elif element.fraud is not None:
            state.add_fraud(element.fraud.transaction.event_us, element.fraud.reported_us)


def _order(element: Element) -> tuple[int, int, int]:
    # Transactions before labels at one instant only orders the output; both join the
    # history after that instant's features are computed.
    if element.transaction is not None:
        return (element.time_us, 0, element.transaction.transaction_id)
    assert element.fraud is not None
    return (element.time_us, 1, element.fraud.transaction.transaction_id)
