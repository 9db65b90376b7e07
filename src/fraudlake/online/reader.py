"""The online feature reader: a transaction in, its full feature vector out.

The call the scoring service makes. One pipelined Redis round trip fetches, for every
entity stage, the entity's transactions and frauds in ``[t - span, t)`` and the
customer's profile; the stage's own :meth:`~EntityStage.values` (the code the stream
runs) turns them into window and label features, and
:func:`~fraudlake.features.request_time.request_features` (the code the batch runs) adds
the request-time ones. So the vector equals the batch row of the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import redis

from fraudlake.features.definitions import FeatureSet
from fraudlake.features.request_time import request_features
from fraudlake.online.layout import (
    DEFAULT_PREFIX,
    PROFILE_FIELDS,
    frauds_key,
    member_value,
    profile_key,
    transactions_key,
)
from fraudlake.stream_features.entity_stage import DEFAULT_GRACE_US, EntityState
from fraudlake.stream_features.events import Transaction
from fraudlake.stream_features.plan import build_stages


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
        self.client = client
        self.features = features
        self.prefix = prefix
        self.stages = build_stages(features, grace_us)

    @property
    def names(self) -> list[str]:
        """Feature names of :meth:`vector`, in the order the models were trained on."""
        return self.features.names

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
        pipe = self.client.pipeline(transaction=False)
        for tx in txs:
            self._queue(pipe, tx)
        replies = iter(pipe.execute())
        return [self._assemble(replies, tx) for tx in txs]

    def _queue(self, pipe: redis.client.Pipeline, tx: Transaction) -> None:
        t = tx.event_us
        for stage in self.stages:
            key = tx.key(stage.keys)
            low, high = t - stage.span_us, f"({t}"
            pipe.zrangebyscore(
                transactions_key(self.prefix, stage.entity, key), low, high, withscores=True
            )
            if stage.takes_labels:
                pipe.zrangebyscore(
                    frauds_key(self.prefix, stage.entity, key), low, high, withscores=True
                )
        pipe.hmget(profile_key(self.prefix, tx.customer_id), list(PROFILE_FIELDS))

    def _assemble(
        self, replies: Iterator[Any], tx: Transaction
    ) -> dict[str, float] | UnknownCustomerError:
        """Consume ``tx``'s replies (queued by :meth:`_queue`) into its feature values."""
        t = tx.event_us
        values: dict[str, float] = {}
        for stage in self.stages:
            state = EntityState()
            for member, score in next(replies):
                state.add_transaction(int(score), member_value(member))
            if stage.takes_labels:
                for member, score in next(replies):
                    state.add_fraud(int(score), member_value(member))
            values.update(stage.values(state, t))
        profile = next(replies)
        if any(v is None for v in profile):
            return UnknownCustomerError(
                f"no profile for customer {tx.customer_id} in the online store; load the "
                "profiles with `fraudlake online load-profiles`"
            )
        inputs = {
            "amount": np.array([tx.amount]),
            "event_us": np.array([t], dtype=np.int64),
            "terminal_x": np.array([tx.terminal_x]),
            "terminal_y": np.array([tx.terminal_y]),
            **{f: np.array([float(v)]) for f, v in zip(PROFILE_FIELDS, profile, strict=True)},
        }
        for name, array in request_features(inputs, self.features.request).items():
            values[name] = float(array[0])
        return {name: values[name] for name in self.features.names}

    def vector(self, tx: Transaction) -> list[float]:
        """:meth:`features_for` as a list in :attr:`names` order (a model's input row)."""
        found = self.features_for(tx)
        return [found[n] for n in self.names]
