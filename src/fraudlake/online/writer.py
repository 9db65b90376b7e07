"""Write transactions and known frauds into the online store, idempotently.

Each write also trims what no window can reach any more (older than the stage's widest
span plus grace before the event) and sets a time-to-live on the key, so an entity that
goes quiet disappears. One pipelined round trip per call.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from fraudlake.online.layout import (
    DEFAULT_PREFIX,
    fraud_member,
    frauds_key,
    transaction_member,
    transactions_key,
)
from fraudlake.stream_features.entity_stage import EntityStage
from fraudlake.stream_features.events import KnownFraud, Transaction

US = 1_000_000


class OnlineStoreWriter:
    def __init__(
        self, client: redis.Redis, stages: list[EntityStage], prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.client = client
        self.stages = stages
        self.prefix = prefix

    def write(
        self, transactions: Iterable[Transaction] = (), frauds: Iterable[KnownFraud] = ()
    ) -> None:
        pipe = self.client.pipeline(transaction=False)
        for tx in transactions:
            for stage in self.stages:
                key = transactions_key(self.prefix, stage.entity, tx.key(stage.keys))
                member = transaction_member(tx.event_us, tx.transaction_id, tx.cents)
                pipe.zadd(key, {member: tx.event_us})
                self._trim(pipe, key, stage, tx.event_us)
        for fraud in frauds:
            tx = fraud.transaction
            for stage in self.stages:
                if stage.takes_labels:
                    key = frauds_key(self.prefix, stage.entity, tx.key(stage.keys))
                    member = fraud_member(tx.event_us, tx.transaction_id, fraud.reported_us)
                    pipe.zadd(key, {member: tx.event_us})
                    self._trim(pipe, key, stage, tx.event_us)
        pipe.execute()

    @staticmethod
    def _trim(pipe: redis.client.Pipeline, key: str, stage: EntityStage, time_us: int) -> None:
        keep = stage.span_us + stage.grace_us
        pipe.zremrangebyscore(key, "-inf", f"({time_us - keep}")
        pipe.expire(key, keep // US)
