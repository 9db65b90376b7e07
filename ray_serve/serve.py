"""Ray Serve deployment of the scoring API: the champion behind FastAPI, batched.

Thin: the API, the scorer and the model lifecycle live in ``fraudlake.serving``; this
file wires them to Ray Serve — one ``ScoringService`` per replica, single-transaction
requests gathered by ``@serve.batch``, options applied in place by ``reconfigure``
(the deployment's ``user_config``), Ray's metrics, and a health check.

Run it on the local stack with ``fraudlake serve up``; on any Ray cluster with
``serve deploy ray_serve/serve_config.yaml`` (see the README).
"""

from __future__ import annotations

import logging
from typing import Any

from ray import serve
from starlette.types import ASGIApp

from fraudlake.serving.api import create_app
from fraudlake.serving.metrics import RayMetrics
from fraudlake.serving.options import ServingOptions
from fraudlake.serving.payloads import ScoreResponse, TransactionIn
from fraudlake.serving.service import ScoringService
from fraudlake.serving.settings import ServingSettings

log = logging.getLogger("ray.serve")


@serve.deployment(name="FraudScorer", max_ongoing_requests=256)
@serve.ingress()
class FraudScorer:
    def __init__(self) -> None:
        # Options arrive through reconfigure (the user_config), so changing them never
        # restarts a replica; until then, the defaults.
        self.service = ScoringService.from_settings(
            ServingSettings(), ServingOptions(), RayMetrics()
        )
        info = self.service.model_info()
        log.info("scoring replica up: model %s version %s", info.name, info.version)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        options = ServingOptions.model_validate(user_config)
        self.service.configure(options)
        self._score_many.set_max_batch_size(options.batch_max_size)
        self._score_many.set_batch_wait_timeout_s(options.batch_wait_ms / 1000.0)
        changes = self.service.refresh_models()  # `fraudlake serve reload` lands here
        log.info("options applied; models: %s", ", ".join(changes) or "unchanged")

    @serve.batch(max_batch_size=256, batch_wait_timeout_s=0.0)
    async def _score_many(
        self, items: list[TransactionIn], explain: list[bool], received_at: list[float]
    ) -> list[ScoreResponse]:
        return await self.service.score(items, explain, received_at)

    def __serve_build_asgi_app__(self) -> ASGIApp:
        self.service.start_polling()
        return create_app(self.service, score_one=self._score_many)

    async def check_health(self) -> None:
        if not self.service.publisher.alive:
            raise RuntimeError("the decisions publisher thread died")

    async def __del__(self) -> None:
        await self.service.stop()


#: ``import_path`` of ``ray_serve/serve_config.yaml`` (``serve run ray_serve.serve:app``).
app = FraudScorer.bind()
