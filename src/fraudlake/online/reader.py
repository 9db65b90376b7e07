"""The online feature reader: a transaction in, its full feature vector out.

The call the scoring service makes. One Redis round trip
(:func:`~fraudlake.online.round_trip.round_trip`) fetches, for every entity stage, the
entity's transactions and frauds in ``[t - span, t)`` and the customer's profile. The
reader counts and sums each of the stage's ranges (bisection over the time-ordered
replies, prefix sums of the cents), the stage's own :meth:`~EntityStage.values_of` (the
code the stream runs) turns the sums into window and label features, and
:func:`~fraudlake.features.request_time.request_features` (the code the batch runs) adds
the request-time ones. So the vector equals the batch row of the same transaction.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

import numpy as np
import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.features.request_time import request_features
from fraudlake.online.layout import (
    DEFAULT_PREFIX,
    PROFILE_FIELDS,
    frauds_key,
    profile_key,
    transactions_key,
)
from fraudlake.online.round_trip import Command, round_trip
from fraudlake.stream_features.entity_stage import DEFAULT_GRACE_US
from fraudlake.stream_features.events import Transaction
from fraudlake.stream_features.plan import build_stages


def _times(scores: list[bytes]) -> list[int]:
    """Scores (event times in µs) as ints. Redis writes a score with ``%.17g``: plain
    digits for any time before the year 5138, so ``int`` reads them (3x faster than
    through ``float``); an exponent form falls back to ``float``."""
    try:
        return list(map(int, scores))
    except ValueError:
        return [int(float(score)) for score in scores]


def _after_colon(members: list[bytes]) -> list[int]:
    """:func:`~fraudlake.online.layout.member_value` of every member, inlined (the
    reader's hottest loop; members are bytes: the client must not decode responses)."""
    return [int(member.rpartition(b":")[2]) for member in members]


class UnknownCustomerError(LookupError):
    """The online store has no profile for the transaction's customer."""


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
        commands: list[Command] = []
        for tx in txs:
            self._queue(commands, tx)
        replies = iter(round_trip(self.client, commands))
        found: list[tuple[dict[str, float], list[Any]]] = []
        for tx in txs:
            values = self._window_values(replies, tx.event_us)
            found.append((values, next(replies)))
        known = [i for i, (_, profile) in enumerate(found) if None not in profile]
        if known:
            # The request features of the whole batch in one vectorised call.
            inputs = {
                "amount": np.array([txs[i].amount for i in known]),
                "event_us": np.array([txs[i].event_us for i in known], dtype=np.int64),
                "terminal_x": np.array([txs[i].terminal_x for i in known]),
                "terminal_y": np.array([txs[i].terminal_y for i in known]),
            }
            for j, field in enumerate(PROFILE_FIELDS):
                inputs[field] = np.array([float(found[i][1][j]) for i in known])
            for name, array in request_features(inputs, self._request).items():
                for value, i in zip(array.tolist(), known, strict=True):
                    found[i][0][name] = value
        names = self._names
        return [
            {n: values[n] for n in names}
            if None not in profile
            else UnknownCustomerError(
                f"no profile for customer {tx.customer_id} in the online store; load the "
                "profiles with `fraudlake online load-profiles`"
            )
            for tx, (values, profile) in zip(txs, found, strict=True)
        ]

    def _queue(self, commands: list[Command], tx: Transaction) -> None:
        t = tx.event_us
        high = f"({t}"
        for stage in self.stages:
            key = tx.key(stage.keys)
            low = t - stage.span_us
            commands.append(
                (
                    "ZRANGEBYSCORE",
                    transactions_key(self.prefix, stage.entity, key),
                    low,
                    high,
                    "WITHSCORES",
                )
            )
            if stage.takes_labels:
                commands.append(
                    (
                        "ZRANGEBYSCORE",
                        frauds_key(self.prefix, stage.entity, key),
                        low,
                        high,
                        "WITHSCORES",
                    )
                )
        commands.append(("HMGET", profile_key(self.prefix, tx.customer_id), *PROFILE_FIELDS))

    def _window_values(self, replies: Iterator[Any], t: int) -> dict[str, float]:
        """Consume one transaction's sorted-set replies (queued by :meth:`_queue`) into
        its window and label features. Replies come sorted by score (event time): each
        range is a slice found by bisection, its cents a difference of prefix sums."""
        values: dict[str, float] = {}
        for stage in self.stages:
            flat = next(replies)  # member, score, member, score, ...
            times = _times(flat[1::2])
            n = len(times)
            # Cents only where a feature adds them up (the rest of the members only count).
            first = (
                n if stage.cents_span_us is None else bisect_left(times, t - stage.cents_span_us)
            )
            prefix = list(accumulate(_after_colon(flat[2 * first :: 2]), initial=0))
            sums: list[int] = []
            for start, end in stage.transaction_ranges:
                a = bisect_left(times, t - start)
                b = bisect_left(times, t - end) if end else n  # replies end before t
                sums += (b - a, prefix[b - first] - prefix[a - first] if a >= first else 0)
            frauds: list[int] = []
            if stage.takes_labels:
                flat = next(replies)
                fraud_times = _times(flat[1::2])
                reported = _after_colon(flat[::2])
                for start, end in stage.fraud_ranges:
                    a, b = bisect_left(fraud_times, t - start), bisect_left(fraud_times, t - end)
                    frauds.append(sum(1 for r in reported[a:b] if r < t))
            values.update(stage.values_of(sums, frauds))
        return values

    def vector(self, tx: Transaction) -> list[float]:
        """:meth:`features_for` as a list in :attr:`names` order (a model's input row)."""
        found = self.features_for(tx)
        return [found[n] for n in self.names]
