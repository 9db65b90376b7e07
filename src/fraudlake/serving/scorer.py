"""Score transactions: online features, the model, the decision, its reasons — engine-free.

:meth:`Scorer.score` takes a batch (one transaction is a batch of one) and makes one
pipelined Redis round trip for all its features, one model call for all its rows and
one contributions call for the rows that need reasons. A transaction whose features
cannot be had (Redis unreachable, no profile of the customer) is decided by the
fallback rules and marked degraded; it never fails the batch.

Traffic shares (shadow, canary) are decided by the transaction id, not by chance: the
same transaction always takes the same path, so a replay reproduces every decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import redis

from fraudlake.online.reader import FeatureRows, OnlineFeatureReader
from fraudlake.params import DecisionParams
from fraudlake.privacy import card_id
from fraudlake.serving.decision import Decision, decide
from fraudlake.serving.fallback import fallback_decision
from fraudlake.serving.loaded_models import LoadedModel, ModelSlots
from fraudlake.serving.options import ServingOptions
from fraudlake.serving.payloads import ModelRef, ReasonOut, ScoreResponse, TransactionIn
from fraudlake.serving.reasons import top_reasons
from fraudlake.stream_features.events import Transaction, to_us

log = logging.getLogger(__name__)

_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
#: The rules' pseudo-model in answers and decision records.
RULES = "fallback-rules"


def traffic_share(transaction_id: int, salt: int) -> float:
    """A uniform number in [0, 1) fixed by the transaction id (a splitmix64 step):
    ``traffic_share(id, salt) < share`` picks ``share`` of the traffic, always the same
    transactions for the same salt."""
    z = (transaction_id * _GOLDEN + salt) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) / 2.0**64


CANARY_SALT = 1
SHADOW_SALT = 2


@dataclass
class Scored:
    """One transaction's answer and the record published for it."""

    response: ScoreResponse
    transaction: Transaction
    features: dict[str, float] | None
    shadow: dict[str, Any] | None = None

    def record(self, latency_ms: float, decided_at: str, event_ts: str) -> dict[str, Any]:
        """The decision record for Kafka ``decisions`` (the card only as its pseudonym);
        ``decided_at`` ISO 8601, one clock read for a whole batch; ``event_ts`` the
        transaction's time as :func:`~fraudlake.stream_features.events.format_ts` gives it
        (:func:`decision_records` formats a batch's at once)."""
        r = self.response
        tx = self.transaction
        return {
            "transaction_id": r.transaction_id,
            "event_ts": event_ts,
            "customer_id": tx.customer_id,
            "card_id": tx.card_id,
            "terminal_id": tx.terminal_id,
            "amount": tx.amount,
            "decided_at": decided_at,
            "model_name": r.model.name,
            "model_version": r.model.version,
            "model_alias": r.model.alias,
            "score": r.score,
            "decision": r.decision,
            "reasons": [x.model_dump() for x in r.reasons],
            "degraded": r.degraded,
            "degraded_reason": r.degraded_reason,
            "features": self.features,
            "shadow": self.shadow,
            "latency_ms": round(latency_ms, 3),
        }


def format_event_times(us: Sequence[int]) -> list[str]:
    """:func:`~fraudlake.stream_features.events.format_ts` of many times in one numpy
    call (C formatting: a tenth of the cost per time, on every decision record).
    Years 1970 to 9999, which the API's ``event_ts`` check keeps within."""
    text = np.datetime_as_string(np.asarray(us, dtype="datetime64[us]"), unit="us")
    return [t + "Z" for t in text.tolist()]


def decision_records(
    scored: Sequence[Scored], received_at: Sequence[float], now: float, decided_at: str
) -> list[dict[str, Any]]:
    """The Kafka records of a scored batch; latency of each from its ``received_at`` to
    ``now`` (``time.perf_counter()`` values), ``decided_at`` ISO 8601."""
    event_ts = format_event_times([s.transaction.event_us for s in scored])
    return [
        s.record((now - t) * 1000.0, decided_at, ts)
        for s, t, ts in zip(scored, received_at, event_ts, strict=True)
    ]


class Scorer:
    """Scores batches with ``slots``' models and ``reader``'s online features."""

    def __init__(
        self,
        reader: OnlineFeatureReader,
        slots: ModelSlots,
        thresholds: DecisionParams,
        options: ServingOptions,
        hmac_key: bytes,
    ) -> None:
        self.reader = reader
        self.slots = slots
        self.thresholds = thresholds
        self.options = options
        self._column_cache: dict[tuple[str, ...], list[int]] = {}
        self._card_id = lru_cache(maxsize=100_000)(lambda number: card_id(number, hmac_key))

    def transaction(self, item: TransactionIn) -> Transaction:
        """The streaming engines' view of a request (card pseudonymised)."""
        card = item.card_id if item.card_id is not None else self._card_id(item.card_number)
        return Transaction(
            transaction_id=item.transaction_id,
            event_us=to_us(item.event_ts),
            customer_id=item.customer_id,
            card_id=card,
            terminal_id=item.terminal_id,
            terminal_x=item.terminal_x,
            terminal_y=item.terminal_y,
            amount=item.amount,
            merchant_category=item.merchant_category,
            currency=item.currency,
        )

    def score(self, items: Sequence[TransactionIn], explain: Sequence[bool]) -> list[Scored]:
        """Answer every item (same order). Raises
        :class:`~fraudlake.serving.loaded_models.NoChampionError` without a champion."""
        champion = self.slots.require_champion()
        challenger = self.slots.distinct_challenger
        options = self.options
        txs = [self.transaction(item) for item in items]
        try:
            rows = self.reader.feature_rows(txs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("online store unreachable, %d transaction(s) by rules: %s", len(txs), exc)
            reason = f"online store unreachable ({type(exc).__name__})"
            return [self._by_rules(tx, reason) for tx in txs]

        out: list[Scored | None] = [None] * len(txs)
        # Which model answers each row: the challenger for the canary share, else champion.
        groups: dict[int, tuple[LoadedModel, list[int]]] = {}
        for i, (tx, missing) in enumerate(zip(txs, rows.missing, strict=True)):
            if missing is not None:
                out[i] = self._by_rules(tx, "no profile of the customer in the online store")
                continue
            model = champion
            if (
                challenger is not None
                and options.canary_share > 0
                and traffic_share(tx.transaction_id, CANARY_SALT) < options.canary_share
            ):
                model = challenger
            groups.setdefault(id(model), (model, []))[1].append(i)

        by_name = rows.by_name()
        for model, members in groups.values():
            ref = ModelRef(name=model.name, version=model.version, alias=model.alias)
            x = rows.matrix[np.ix_(members, self._columns(rows, model))]
            scores = model.predict(x)
            decisions = [decide(float(s), self.thresholds) for s in scores]
            want = [
                k
                for k, (i, d) in enumerate(zip(members, decisions, strict=True))
                if self._wants_reasons(d, explain[i])
            ]
            reasons: dict[int, list[ReasonOut]] = {}
            if want:
                contrib = model.contributions(x[want])
                for j, k in enumerate(want):
                    reasons[k] = [
                        ReasonOut(feature=r.feature, value=r.value, contribution=r.contribution)
                        for r in top_reasons(model.features, x[k], contrib[j], options.top_reasons)
                    ]
            for k, i in enumerate(members):
                out[i] = Scored(
                    response=ScoreResponse(
                        transaction_id=txs[i].transaction_id,
                        score=float(scores[k]),
                        decision=decisions[k],
                        model=ref,
                        reasons=reasons.get(k, []),
                        degraded=False,
                    ),
                    transaction=txs[i],
                    features=by_name[i],
                )
        self._shadow(out, rows, champion, challenger)
        return [s for s in out if s is not None]

    def _columns(self, rows: FeatureRows, model: LoadedModel) -> list[int]:
        """Where ``model``'s features sit in ``rows`` (its training order). Every one is
        there: :class:`~fraudlake.serving.loaded_models.ModelSlots` refuses a model that
        needs features the reader does not compute."""
        key = tuple(model.features)
        found = self._column_cache.get(key)
        if found is None:
            at = {name: k for k, name in enumerate(rows.names)}
            found = self._column_cache[key] = [at[n] for n in model.features]
        return found

    def _wants_reasons(self, decision: Decision, explain: bool) -> bool:
        policy = self.options.reasons_for
        return explain or policy == "all" or (policy == "flagged" and decision != "approve")

    def _shadow(
        self,
        out: list[Scored | None],
        rows: FeatureRows,
        champion: LoadedModel,
        challenger: LoadedModel | None,
    ) -> None:
        """Score the shadow share with the challenger too; recorded, never answered."""
        share = self.options.shadow_share
        if challenger is None or share <= 0:
            return
        shadowed = [
            i
            for i, s in enumerate(out)
            if s is not None
            and not s.response.degraded
            and s.response.model.alias == champion.alias
            and traffic_share(s.transaction.transaction_id, SHADOW_SALT) < share
        ]
        if not shadowed:
            return
        x = rows.matrix[np.ix_(shadowed, self._columns(rows, challenger))]
        for i, score in zip(shadowed, challenger.predict(x), strict=True):
            scored = out[i]
            assert scored is not None
            scored.shadow = {
                "model_version": challenger.version,
                "score": float(score),
                "decision": decide(float(score), self.thresholds),
            }

    def _by_rules(self, tx: Transaction, why: str) -> Scored:
        decision, rule = fallback_decision(tx.amount, tx.event_us, self.options.fallback)
        return Scored(
            response=ScoreResponse(
                transaction_id=tx.transaction_id,
                score=None,
                decision=decision,
                model=ModelRef(name=RULES, version=None, alias=None),
                reasons=[ReasonOut(feature=f"rule: {rule}", value=tx.amount)],
                degraded=True,
                degraded_reason=why,
            ),
            transaction=tx,
            features=None,
        )
