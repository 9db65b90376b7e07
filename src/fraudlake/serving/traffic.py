"""Send transactions to the scoring API at a steady rate and measure what comes back.

Open loop: request ``i`` leaves at ``start + i / rate`` whether or not earlier ones have
been answered (at most ``concurrency`` in flight), so a slow server shows up as latency,
as it would for a payment gateway, instead of quietly lowering the rate. Latency is
measured by the client, from just before sending to the parsed answer.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np


@dataclass
class TrafficResult:
    sent: int = 0
    seconds: float = 0.0
    codes: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    degraded: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    #: The first few failures, as ``HTTP 422 for transaction 7: <answer>``, to show why.
    failures: list[str] = field(default_factory=list)

    def note_failure(self, what: str, limit: int = 5) -> None:
        if len(self.failures) < limit:
            self.failures.append(what)

    @property
    def ok(self) -> int:
        return self.codes.get("200", 0)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile (ms) of the answered requests; NaN when none."""
        if not self.latencies_ms:
            return float("nan")
        return float(np.percentile(self.latencies_ms, p))


def score_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``/v1/score`` body from a raw transaction row (``card_number`` as the gateway
    sends it; ``event_ts`` a datetime)."""
    return {
        "transaction_id": int(row["transaction_id"]),
        "event_ts": row["event_ts"].isoformat(),
        "customer_id": int(row["customer_id"]),
        "card_number": str(row["card_number"]),
        "terminal_id": int(row["terminal_id"]),
        "terminal_x": float(row["terminal_x"]),
        "terminal_y": float(row["terminal_y"]),
        "merchant_category": str(row.get("merchant_category") or ""),
        "amount": float(row["amount"]),
        "currency": str(row["currency"]),
    }


async def send_traffic(
    url: str,
    token: str,
    bodies: Iterable[dict[str, Any]],
    rate: float,
    *,
    concurrency: int = 64,
    on_answer: Callable[[int, dict[str, Any] | None], None] = lambda status, body: None,
) -> TrafficResult:
    """POST every body to ``<url>/v1/score`` at ``rate`` requests/s (0: as fast as
    ``concurrency`` allows). Connection errors are counted by exception name."""
    result = TrafficResult()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}

    async def one(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        tx = body.get("transaction_id")
        try:
            began = time.perf_counter()
            reply = await client.post("/v1/score", json=body)
            answer = reply.json() if reply.status_code == 200 else None
            elapsed = (time.perf_counter() - began) * 1000.0
        except httpx.HTTPError as exc:
            result.codes[type(exc).__name__] += 1
            result.note_failure(f"{type(exc).__name__} for transaction {tx}: {exc}")
            on_answer(0, None)
            return
        finally:
            gate.release()
        result.codes[str(reply.status_code)] += 1
        if reply.status_code != 200:
            result.note_failure(
                f"HTTP {reply.status_code} for transaction {tx}: {reply.text[:500]}"
            )
        if answer is not None:
            result.latencies_ms.append(elapsed)
            result.decisions[answer["decision"]] += 1
            model = answer["model"]
            result.models[f"{model['name']} v{model['version']}"] += 1
            result.degraded += bool(answer["degraded"])
        on_answer(reply.status_code, answer)

    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30.0
    ) as client:
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            if rate > 0:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await gate.acquire()
            task = asyncio.create_task(one(client, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            result.sent += 1
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - start
    return result
