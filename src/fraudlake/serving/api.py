"""The scoring API: a FastAPI app over a :class:`~fraudlake.serving.service.ScoringService`.

``create_app(service, score_one)`` builds it; ``score_one`` answers one transaction —
the Ray Serve deployment passes its ``@serve.batch`` method (requests arriving together
are scored together), the plain-uvicorn peer scores each request on its own.

Every ``/v1`` route but ``/v1/health`` needs ``Authorization: Bearer <token>``. Bad
requests get 422 in FastAPI's shape (``detail[].loc`` names the field), bodies above the
configured size 413, and a replica without a champion 503 saying how to get one.
The batch route validates its body itself, straight from the bytes (:func:`parse_batch`);
:func:`with_batch_body` keeps that body in the published OpenAPI spec.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudlake.serving.loaded_models import NoChampionError
from fraudlake.serving.payloads import (
    BatchRequest,
    BatchResponse,
    Health,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
    TransactionIn,
)
from fraudlake.serving.service import ScoringService

ScoreOne = Callable[[TransactionIn, bool, float], Awaitable[ScoreResponse]]

ROUTES = frozenset({"/v1/score", "/v1/score/batch", "/v1/model", "/v1/health"})


def json_of(model: BaseModel) -> Response:
    """``model`` as a JSON response. The answers are built as validated models already;
    FastAPI would validate them again against ``response_model`` (kept for the OpenAPI
    schema) and encode them twice over, which cost more than the scoring of a batch."""
    return Response(model.model_dump_json(), media_type="application/json")


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` says JSON (``application/json``, ``application/*+json``,
    parameters allowed) — what FastAPI asks of a body it parses."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def parse_batch(body: bytes, content_type: str | None) -> BatchRequest:
    """A batch body validated straight from its JSON bytes. FastAPI would ``json.loads``
    it and then validate the Python objects: 40 % more per transaction (14 against
    8.6 µs), a twentieth of a replica's time at full load. Errors as FastAPI gives them
    (``loc`` from ``body``); unparseable JSON is not echoed back, nor a body not sent as
    JSON (refused as FastAPI refuses it on the other routes)."""
    if not is_json(content_type):
        raise RequestValidationError(
            [
                {
                    "type": "content_type",
                    "loc": ("body",),
                    "msg": f"send the batch as JSON (Content-Type: application/json), not "
                    f"{content_type or 'without a Content-Type'}",
                    "input": {},
                }
            ]
        )
    try:
        return BatchRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    raise RequestValidationError(
        [
            {**e, "loc": ("body", *e["loc"])}
            | ({"input": {}} if e["type"] == "json_invalid" else {})
            for e in errors
        ]
    )


#: Where an OpenAPI document's ``$ref`` finds a named schema.
SCHEMAS = "#/components/schemas/"


def with_batch_body(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with :class:`BatchRequest` among its schemas: the batch route reads its
    body itself (:func:`parse_batch`), so FastAPI does not put it there."""
    schema = BatchRequest.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[BatchRequest.__name__] = schema
    return spec


BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": SCHEMAS + BatchRequest.__name__}}},
    }
}


def unprocessable(loc: list[str | int], msg: str, value: Any) -> HTTPException:
    """A 422 in the shape FastAPI gives for a schema error, for checks made by the service."""
    return HTTPException(
        status_code=422,
        detail=[{"type": "value_error", "loc": ["body", *loc], "msg": msg, "input": value}],
    )


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings: a request may carry ``NaN`` (Python's
    JSON reader takes it), and echoing it back in a 422 must not fail the answer."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class LimitsAndMetrics:
    """ASGI middleware: refuse bodies above ``max_bytes`` (413, before any parsing) and
    count every answer (route, status, model version, latency)."""

    def __init__(self, app: ASGIApp, service: ScoringService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["received_at"] = started
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        limit = self.service.options.max_body_bytes
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body, too_big = await _read_body(receive, limit)
            if too_big:
                await JSONResponse(
                    {"detail": f"request body above the {limit}-byte limit; send smaller batches"},
                    status_code=413,
                )(scope, receive, counting_send)
                self._count(scope, status, started)
                return
            receive = _replay(body)
        try:
            await self.app(scope, receive, counting_send)
        finally:
            self._count(scope, status, started)

    def _count(self, scope: Scope, status: int, started: float) -> None:
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        version = scope.get("state", {}).get("model_version", "none")
        self.service.metrics.request(
            route, status, str(version), (time.perf_counter() - started) * 1000.0
        )


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def create_app(service: ScoringService, score_one: ScoreOne | None = None) -> FastAPI:
    """The API over ``service``; ``score_one`` defaults to scoring each request alone."""

    async def score_alone(item: TransactionIn, explain: bool, received_at: float) -> ScoreResponse:
        (answer,) = await service.score([item], [explain], [received_at])
        return answer

    one = score_one or score_alone
    app = FastAPI(
        title="fraudlake scoring API",
        version="1",
        description=(
            "Fraud decisions for card transactions from the current champion model: score, "
            "approve / review / decline, the model version and the top reasons. "
            "Authenticate with `Authorization: Bearer <token>`."
        ),
    )
    app.add_middleware(LimitsAndMetrics, service=service)
    bearer = HTTPBearer(auto_error=False, description="an API token of the deployment")

    # async: FastAPI runs a plain `def` dependency in a worker thread, and that hop per
    # request cost a fifth of a replica's CPU at full load (py-spy).
    async def authorized(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> None:
        if credentials is None or not service.token_ok(credentials.credentials):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token: send `Authorization: Bearer <token>` "
                "with a token from FRAUDLAKE_API_TOKENS",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def check_currency(item: TransactionIn, loc: list[str | int]) -> None:
        if item.currency not in service.options.currencies:
            raise unprocessable(
                [*loc, "currency"],
                f"currency {item.currency!r} is not scored here; accepted: "
                f"{', '.join(service.options.currencies)}",
                item.currency,
            )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

    @app.exception_handler(NoChampionError)
    async def no_champion(request: Request, exc: NoChampionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "10"})

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        dependencies=[Depends(authorized)],
        summary="Score one transaction",
        responses={401: {}, 413: {}, 503: {"description": "no champion model loaded yet"}},
    )
    async def score(request: Request, body: ScoreRequest) -> Response:
        check_currency(body, [])
        answer = await one(body, body.explain, request.scope["state"]["received_at"])
        request.scope["state"]["model_version"] = answer.model.version
        return json_of(answer)

    @app.post(
        "/v1/score/batch",
        response_model=BatchResponse,
        dependencies=[Depends(authorized)],
        summary="Score many transactions in one call",
        responses={401: {}, 413: {}, 503: {"description": "no champion model loaded yet"}},
        openapi_extra=BATCH_BODY,
    )
    async def score_batch(request: Request) -> Response:
        body = parse_batch(await request.body(), request.headers.get("content-type"))
        limit = service.options.max_batch
        if len(body.transactions) > limit:
            raise unprocessable(
                ["transactions"],
                f"{len(body.transactions)} transactions; at most {limit} per call",
                len(body.transactions),
            )
        for i, item in enumerate(body.transactions):
            check_currency(item, ["transactions", i])
        received = request.scope["state"]["received_at"]
        n = len(body.transactions)
        results = await service.score(body.transactions, [body.explain] * n, [received] * n)
        if results:
            request.scope["state"]["model_version"] = results[0].model.version
        return json_of(BatchResponse(results=results))

    @app.get(
        "/v1/model",
        response_model=ModelInfo,
        dependencies=[Depends(authorized)],
        summary="The models this replica serves",
        responses={401: {}},
    )
    async def model() -> ModelInfo:
        return service.model_info()

    @app.get(
        "/v1/health",
        response_model=Health,
        summary="Ready to score? (no token needed)",
        responses={503: {"model": Health, "description": "no champion loaded"}},
    )
    async def health() -> JSONResponse:
        state = service.health()
        return JSONResponse(state.model_dump(), status_code=200 if state.status == "ok" else 503)

    spec_of_routes = app.openapi

    def spec() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_batch_body(spec_of_routes())
        return app.openapi_schema

    app.openapi = spec  # type: ignore[method-assign]
    return app
