"""The online feature reader: transactions in, their full feature vectors out.

The call the scoring service makes. One Redis round trip
(:func:`~fraudlake.online.round_trip.round_trip`) fetches, for every transaction and
entity stage, the entity's transactions and frauds in ``[t - span, t)`` and the
customer's profile. A batch of 8 or more is then counted at once: numpy reads the
numbers, each range of each transaction is a slice of one sorted array (found by
``searchsorted``), its cents a difference of prefix sums (fewer transactions are counted
one by one in plain Python, by bisection). The stage's own
:meth:`~EntityStage.columns_of` (or, one by one, :meth:`~EntityStage.values_of`, the code
the stream runs; the two agree bit for bit) turns the sums into window and label
features, and :func:`~fraudlake.features.request_time.request_features` (the code
the batch runs) adds the request-time ones. So a vector equals the batch row of the
same transaction.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.features.request_time import request_features
from fraudlake.features.window_values import FloatArray, IntArray
from fraudlake.online.layout import (
    DEFAULT_PREFIX,
    PROFILE_FIELDS,
    frauds_key,
    profile_key,
    transactions_key,
)
from fraudlake.online.round_trip import Command, round_trip
from fraudlake.stream_features.entity_stage import DEFAULT_GRACE_US, EntityStage
from fraudlake.stream_features.events import Transaction
from fraudlake.stream_features.plan import build_stages

_DIGITS = b"0123456789 -"
#: From this many transactions on, a batch is counted in numpy at once (below it, numpy's
#: per-call cost outweighs the work; ``make bench`` measures both: one row and 256).
_WHOLE_BATCH_FROM = 8


def _member_fields(members: list[bytes]) -> tuple[IntArray, IntArray]:
    """The event times and the values (cents, report times) of ``<event_us>:
    <transaction_id>:<value>`` members, as int64, read by numpy's C parser (Python's
    ``int`` per number cost 2-3x more). ValueError naming the layout if one is not."""
    if not members:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    text = b" ".join(members).replace(b":", b" ")
    fields = None if text.translate(None, _DIGITS) else np.fromstring(text, np.int64, sep=" ")
    if fields is None or fields.size != 3 * len(members):
        bad = next((m for m in members if len(m.split(b":")) != 3), members[0])
        raise ValueError(
            "online store members must look like <event_us>:<transaction_id>:<integer>, "
            f"found {bad!r}. A store written before the event time moved into the members "
            "(<transaction_id>:<integer>) must be converted first: `fraudlake online "
            "migrate-layout --redis-url <this store>`"
        )
    return fields[0::3], fields[2::3]


class UnknownCustomerError(LookupError):
    """The online store has no profile for the transaction's customer."""


@dataclass(frozen=True)
class FeatureRows:
    """Feature vectors of a batch: row ``i`` of :attr:`matrix` is transaction ``i``'s,
    in :attr:`names` order; where ``missing[i]`` is set, the row is NaN and that says why."""

    names: list[str]
    matrix: FloatArray
    missing: list[UnknownCustomerError | None]

    def by_name(self) -> list[dict[str, float]]:
        """Every transaction's features by name (Python floats), in batch order."""
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.matrix.tolist()]


class OnlineFeatureReader:
    def __init__(
        self,
        client: redis.Redis,
        features: FeatureSet,
        prefix: str = DEFAULT_PREFIX,
        grace_us: int = DEFAULT_GRACE_US,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the online feature reader needs a Redis client returning bytes")
        self.client = client
        self.features = features
        self.prefix = prefix
        self.stages = build_stages(features, grace_us)
        self._names = features.names
        self._request = features.request
        # Per stage: where its transactions' and its frauds' replies sit among one
        # transaction's replies (as :meth:`_queue` puts them; the profile comes last).
        self._replies: list[tuple[EntityStage, int, int | None]] = []
        at = 0
        for stage in self.stages:
            self._replies.append((stage, at, at + 1 if stage.takes_labels else None))
            at += 2 if stage.takes_labels else 1

    @property
    def names(self) -> list[str]:
        """Feature names of :meth:`vector`, in the order the models were trained on."""
        return self._names

    def features_for(self, tx: Transaction) -> dict[str, float]:
        """Every feature of ``tx`` by name, as of its event time (events at or after it,
        ``tx`` itself included if the stream already wrote it, are not counted)."""
        found = self.features_for_many([tx])[0]
        if isinstance(found, UnknownCustomerError):
            raise found
        return found

    def features_for_many(
        self, txs: Sequence[Transaction]
    ) -> list[dict[str, float] | UnknownCustomerError]:
        """:meth:`features_for` of every transaction in one pipelined round trip; a
        transaction whose customer has no profile gets its :class:`UnknownCustomerError`
        in its place instead of failing the others. Redis errors propagate."""
        rows = self.feature_rows(txs)
        return [
            row if missing is None else missing
            for row, missing in zip(rows.by_name(), rows.missing, strict=True)
        ]

    def feature_rows(self, txs: Sequence[Transaction]) -> FeatureRows:
        """The feature vectors of ``txs`` as one matrix (what a model takes), from one
        Redis round trip. Redis errors propagate."""
        n = len(txs)
        if not n:
            return FeatureRows(self._names, np.empty((0, len(self._names))), [])
        commands: list[Command] = []
        for tx in txs:
            self._queue(commands, tx)
        replies = round_trip(self.client, commands)
        per_tx = len(replies) // n
        profiles = replies[per_tx - 1 :: per_tx]
        known: list[int] = []
        missing: list[UnknownCustomerError | None] = [None] * n
        for i, profile in enumerate(profiles):
            if None not in profile:
                known.append(i)
            else:
                missing[i] = UnknownCustomerError(
                    f"no profile for customer {txs[i].customer_id} in the online store; load "
                    "the profiles with `fraudlake online load-profiles`"
                )
        matrix = np.full((n, len(self._names)), np.nan)
        if not known:
            return FeatureRows(self._names, matrix, missing)
        t = np.fromiter((tx.event_us for tx in txs), dtype=np.int64, count=n)
        # The request features of the batch in one vectorised call.
        inputs = {
            "amount": np.array([txs[i].amount for i in known]),
            "event_us": t[known],
            "terminal_x": np.array([txs[i].terminal_x for i in known]),
            "terminal_y": np.array([txs[i].terminal_y for i in known]),
        }
        for j, field in enumerate(PROFILE_FIELDS):
            inputs[field] = np.array([float(profiles[i][j]) for i in known])
        request = request_features(inputs, self._request)
        if n < _WHOLE_BATCH_FROM:
            # A few transactions: numpy's per-call cost would outweigh the work.
            for j, i in enumerate(known):
                values = {name: float(column[j]) for name, column in request.items()}
                for stage, at, frauds_at in self._replies:
                    reply = replies[i * per_tx + at]
                    fraud_reply = None if frauds_at is None else replies[i * per_tx + frauds_at]
                    values.update(_stage_values(stage, txs[i].event_us, reply, fraud_reply))
                matrix[i] = [values[name] for name in self._names]
            return FeatureRows(self._names, matrix, missing)
        columns: dict[str, FloatArray] = {}
        for stage, at, frauds_at in self._replies:
            frauds = None if frauds_at is None else replies[frauds_at::per_tx]
            columns.update(_stage_columns(stage, t, replies[at::per_tx], frauds))
        # Usually every customer is known: whole columns then, no fancy indexing (which
        # cost 5 µs a transaction over 42 columns).
        rows: slice | IntArray = slice(None) if len(known) == n else np.asarray(known)
        for k, name in enumerate(self._names):
            matrix[rows, k] = request[name] if name in request else columns[name][rows]
        return FeatureRows(self._names, matrix, missing)

    def _queue(self, commands: list[Command], tx: Transaction) -> None:
        t = tx.event_us
        high = f"({t}"
        # In the order of ``_replies``, whose positions say where each reply comes back.
        for stage, _, frauds_at in self._replies:
            key = tx.key(stage.keys)
            low = t - stage.span_us
            commands.append(
                (
                    "ZRANGEBYSCORE",
                    transactions_key(self.prefix, stage.entity, key),
                    low,
                    high,
                )
            )
            if frauds_at is not None:
                commands.append(
                    (
                        "ZRANGEBYSCORE",
                        frauds_key(self.prefix, stage.entity, key),
                        low,
                        high,
                    )
                )
        commands.append(("HMGET", profile_key(self.prefix, tx.customer_id), *PROFILE_FIELDS))

    def vector(self, tx: Transaction) -> list[float]:
        """:meth:`features_for` as a list in :attr:`names` order (a model's input row)."""
        found = self.features_for(tx)
        return [found[n] for n in self.names]


def _stage_values(
    stage: EntityStage, t: int, transactions: list[bytes], frauds: list[bytes] | None
) -> dict[str, float]:
    """:func:`_stage_columns` for one transaction, in plain Python: bisection over its
    time-ordered replies, prefix sums of the cents."""
    times_array, cents_array = _member_fields(transactions)
    times = times_array.tolist()
    cents = list(accumulate(cents_array.tolist(), initial=0))
    n = len(times)
    sums: list[int] = []
    for start, end in stage.transaction_ranges:
        a = bisect_left(times, t - start)
        b = bisect_left(times, t - end) if end else n  # replies end before t
        sums += (b - a, cents[b] - cents[a])
    known: list[int] = []
    if frauds is not None:
        fraud_times_array, reported_array = _member_fields(frauds)
        fraud_times, reported = fraud_times_array.tolist(), reported_array.tolist()
        for start, end in stage.fraud_ranges:
            a, b = bisect_left(fraud_times, t - start), bisect_left(fraud_times, t - end)
            known.append(sum(1 for r in reported[a:b] if r < t))
    return stage.values_of(sums, known)


def _stage_columns(
    stage: EntityStage,
    t: IntArray,
    transactions: list[list[bytes]],
    frauds: list[list[bytes]] | None,
) -> dict[str, FloatArray]:
    """One stage's features of a batch, from each transaction's ``ZRANGEBYSCORE`` reply
    (its members of ``[t - span, t)`` in time order).

    All transactions' members go into one array. A member's key is its transaction's
    index times ``span`` plus its time relative to that transaction's ``t - span``, so
    keys rise through the whole array and a range ``[t - start, t - end)`` of transaction
    ``i`` is the slice between two ``searchsorted`` positions."""
    n = len(t)
    span = stage.span_us
    segment_end = (np.arange(n, dtype=np.int64) + 1) * span  # the key of each t

    def flatten(replies: list[list[bytes]]) -> tuple[IntArray, IntArray, IntArray]:
        lengths = np.fromiter(map(len, replies), dtype=np.int64, count=n)
        times, values = _member_fields([member for r in replies for member in r])
        keys = np.repeat(segment_end - t, lengths) + times
        return keys, lengths, values

    keys, _, cents_each = flatten(transactions)
    cents = np.concatenate(([0], np.cumsum(cents_each)))
    sums = np.empty((n, 2 * len(stage.transaction_ranges)), dtype=np.int64)
    for k, (start, end) in enumerate(stage.transaction_ranges):
        a = np.searchsorted(keys, segment_end - start)
        b = np.searchsorted(keys, segment_end - end)
        sums[:, 2 * k] = b - a
        sums[:, 2 * k + 1] = cents[b] - cents[a]
    known = np.zeros((n, len(stage.fraud_ranges)), dtype=np.int64)
    if frauds is not None:
        keys, lengths, reported = flatten(frauds)
        # A fraud counts only if it was reported before the transaction's own time.
        before = reported < np.repeat(t, lengths)
        counted = np.concatenate(([0], np.cumsum(before)))
        for k, (start, end) in enumerate(stage.fraud_ranges):
            a = np.searchsorted(keys, segment_end - start)
            b = np.searchsorted(keys, segment_end - end)
            known[:, k] = counted[b] - counted[a]
    return stage.columns_of(sums, known)
