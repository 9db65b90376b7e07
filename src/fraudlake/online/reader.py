"""The online feature reader: transactions in, their full feature vectors out.

The call the scoring service makes. One Redis round trip
(:func:`~fraudlake.online.round_trip.round_trip`) fetches, for every transaction and
entity stage, the entity's transactions and frauds in ``[t - span, t)`` and the
customer's profile. The members of the replies are counted per window by compiled
code (``fraudlake_online_reads``, Rust, in ``native/``) — the count and the cents of each
range, the frauds reported before ``t`` — without a Python object per number. The
stage's own :meth:`~EntityStage.columns_of` (a batch of 8 or more at once, in numpy) or
:meth:`~EntityStage.values_of` (fewer, one by one in plain Python: numpy's per-call cost
would outweigh the work; the two agree bit for bit) turns the sums into window and label
features, and :func:`~fraudlake.features.request_time.request_features` (the code the
batch runs) adds the request-time ones. So a vector equals the batch row of the same
transaction.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import redis
from fraudlake_online_reads import known_frauds, window_sums

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

#: From this many transactions on, a batch's features are computed in numpy at once
#: (below it, numpy's per-call cost outweighs the work; ``make bench`` measures both: one
#: row and 256).
_WHOLE_BATCH_FROM = 8


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
        t_list = t.tolist()
        sums = [
            _stage_sums(
                stage,
                t_list,
                replies[at::per_tx],
                None if frauds_at is None else replies[frauds_at::per_tx],
            )
            for stage, at, frauds_at in self._replies
        ]
        if n < _WHOLE_BATCH_FROM:
            # A few transactions: numpy's per-call cost would outweigh the work.
            # per stage: its row widths and the sums as Python ints
            per_stage = [
                (
                    stage,
                    2 * len(stage.transaction_ranges),
                    array("q", counts).tolist(),
                    len(stage.fraud_ranges),
                    array("q", frauds).tolist(),
                )
                for (stage, _, _), (counts, frauds) in zip(self._replies, sums, strict=True)
            ]
            for j, i in enumerate(known):
                values = {name: float(column[j]) for name, column in request.items()}
                for stage, w, counts, f, frauds in per_stage:
                    values.update(
                        stage.values_of(counts[i * w : (i + 1) * w], frauds[i * f : (i + 1) * f])
                    )
                matrix[i] = [values[name] for name in self._names]
            return FeatureRows(self._names, matrix, missing)
        columns: dict[str, FloatArray] = {}
        for (stage, _, _), (window_bytes, fraud_bytes) in zip(self._replies, sums, strict=True):
            columns.update(
                stage.columns_of(
                    np.frombuffer(window_bytes, dtype=np.int64).reshape(n, -1),
                    np.frombuffer(fraud_bytes, dtype=np.int64).reshape(n, -1),
                )
            )
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


def _stage_sums(
    stage: EntityStage,
    t: list[int],
    transactions: list[list[bytes]],
    frauds: list[list[bytes]] | None,
) -> tuple[bytes, bytes]:
    """One stage's raw aggregates of a batch, from each transaction's ``ZRANGEBYSCORE``
    replies (its members of ``[t - span, t)``), counted by the compiled
    ``fraudlake_online_reads``: native int64 bytes, row ``i`` transaction ``i``'s — the
    count and cents of each of :attr:`~EntityStage.transaction_ranges`, then the frauds
    reported before ``t`` in each of :attr:`~EntityStage.fraud_ranges` (zeros without
    label windows). ValueError naming the layout if a member is not one of it."""
    try:
        counts = window_sums(t, transactions, stage.transaction_ranges)
        if frauds is None:
            return counts, bytes(8 * len(t) * len(stage.fraud_ranges))
        return counts, known_frauds(t, frauds, stage.fraud_ranges)
    except ValueError as exc:
        bad = exc.args[0] if exc.args else None
        if not isinstance(bad, bytes):
            raise
        raise ValueError(
            "online store members must look like <event_us>:<transaction_id>:<integer>, "
            f"found {bad!r}. A store written before the event time moved into the members "
            "(<transaction_id>:<integer>) must be converted first: `fraudlake online "
            "migrate-layout --redis-url <this store>`"
        ) from None
