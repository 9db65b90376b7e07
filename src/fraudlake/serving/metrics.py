"""What the scoring service counts, exported on Ray's Prometheus endpoint.

Names as Prometheus shows them (Ray prefixes ``ray_``):

* ``ray_fraudlake_requests_total{route, status, model_version}``
* ``ray_fraudlake_request_latency_ms_bucket{route, model_version}`` (histogram)
* ``ray_fraudlake_decisions_total{decision, model_version}``
* ``ray_fraudlake_degraded_total{reason}`` — answers given by the fallback rules
* ``ray_fraudlake_decisions_dropped_total`` — records Kafka never got (queue full)

Outside a Ray replica (the plain-uvicorn peer of the benchmark) :class:`NullMetrics`
keeps the same calls free.
"""

from __future__ import annotations

from collections import Counter as Tally
from typing import Protocol

#: Latency buckets (ms): fine below the 15 ms / 50 ms targets, coarse above.
LATENCY_BOUNDARIES_MS = [1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 250, 500, 1000]


class Metrics(Protocol):
    def request(self, route: str, status: int, model_version: str, latency_ms: float) -> None: ...

    def decisions(self, counts: Tally[tuple[str, str]]) -> None: ...

    def degraded(self, reason: str, n: int) -> None: ...

    def dropped(self, n: int) -> None: ...


class NullMetrics:
    def request(self, route: str, status: int, model_version: str, latency_ms: float) -> None:
        pass

    def decisions(self, counts: Tally[tuple[str, str]]) -> None:
        pass

    def degraded(self, reason: str, n: int) -> None:
        pass

    def dropped(self, n: int) -> None:
        pass


class RayMetrics:
    """The metrics above through ``ray.serve.metrics`` (tagged with deployment, replica
    and application by Ray). Create inside a replica."""

    def __init__(self) -> None:
        from ray.serve import metrics

        # Ray annotates tag_keys as Tuple[str] (one element) but takes any number.

        self._requests = metrics.Counter(
            "fraudlake_requests_total",
            description="HTTP requests answered, by route, status and model version",
            tag_keys=("route", "status", "model_version"),  # type: ignore[arg-type]
        )
        self._latency = metrics.Histogram(
            "fraudlake_request_latency_ms",
            description="time from request to answer inside the replica (ms)",
            boundaries=LATENCY_BOUNDARIES_MS,
            tag_keys=("route", "model_version"),  # type: ignore[arg-type]
        )
        self._decisions = metrics.Counter(
            "fraudlake_decisions_total",
            description="decisions given, by decision and model version",
            tag_keys=("decision", "model_version"),  # type: ignore[arg-type]
        )
        self._degraded = metrics.Counter(
            "fraudlake_degraded_total",
            description="transactions decided by the fallback rules, by reason",
            tag_keys=("reason",),
        )
        self._dropped = metrics.Counter(
            "fraudlake_decisions_dropped_total",
            description="decision records dropped before reaching Kafka (queue full)",
        )

    def request(self, route: str, status: int, model_version: str, latency_ms: float) -> None:
        self._requests.inc(
            1, tags={"route": route, "status": str(status), "model_version": model_version}
        )
        self._latency.observe(latency_ms, tags={"route": route, "model_version": model_version})

    def decisions(self, counts: Tally[tuple[str, str]]) -> None:
        for (decision, version), n in counts.items():
            self._decisions.inc(n, tags={"decision": decision, "model_version": version})

    def degraded(self, reason: str, n: int) -> None:
        self._degraded.inc(n, tags={"reason": reason})

    def dropped(self, n: int) -> None:
        self._dropped.inc(n)
