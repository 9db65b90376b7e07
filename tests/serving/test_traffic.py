"""The traffic client against a real HTTP server: counts, and why the failures failed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fraudlake.serving.traffic import send_traffic


async def score(request: Request) -> JSONResponse:
    body = await request.json()
    tx = body["transaction_id"]
    if tx % 2:
        return JSONResponse({"detail": f"odd transaction {tx}"}, status_code=422)
    return JSONResponse(
        {
            "transaction_id": tx,
            "decision": "decline" if tx % 4 == 0 else "approve",
            "model": {"name": "m", "version": 3},
            "degraded": False,
        }
    )


@pytest.fixture
def server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Starlette(routes=[Route("/v1/score", score, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


def test_answers_are_counted_and_the_first_failures_say_why(server: str) -> None:
    bodies = ({"transaction_id": i} for i in range(20))
    result = asyncio.run(send_traffic(server, "token", bodies, 0, concurrency=4))
    assert result.sent == 20 and result.ok == 10
    assert result.codes == {"200": 10, "422": 10}
    assert result.decisions == {"decline": 5, "approve": 5}
    assert result.models == {"m v3": 10}
    assert len(result.latencies_ms) == 10 and result.percentile(99) > 0
    assert len(result.failures) == 5  # the first five, not all ten
    for failure in result.failures:
        assert failure.startswith("HTTP 422 for transaction ")
        tx = failure.split()[4].rstrip(":")
        assert f"odd transaction {tx}" in failure


def test_a_server_that_is_gone_is_named_per_request() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    gone = f"http://127.0.0.1:{closed}"
    result = asyncio.run(send_traffic(gone, "t", [{"transaction_id": 1}], 0))
    assert result.ok == 0 and result.codes == {"ConnectError": 1}
    assert result.failures[0].startswith("ConnectError for transaction 1")
