"""Schemathesis against the published OpenAPI spec: whatever it sends, no 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from fraudlake.serving.api import create_app
from fraudlake.serving.options import ServingOptions
from fraudlake.serving.service import ScoringService
from tests.serving.conftest import TOKEN, Registered, serving_settings
from tests.serving.test_api import redis_url


@pytest.fixture(scope="module")
def api_schema(
    registry: Registered,
    redis_server: redis.Redis,
    kafka: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[schemathesis.schemas.BaseSchema]:
    registry.set_alias("champion", registry.versions["lgbm"])
    svc = ScoringService.from_settings(
        serving_settings(registry, redis_url(redis_server), kafka, tmp_path_factory.mktemp("h")),
        ServingOptions(max_batch=50, decisions_topic="fuzz-decisions"),
    )
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(svc))
    svc.publisher.close(timeout=5)


def test_no_request_makes_the_api_fail(api_schema: schemathesis.schemas.BaseSchema) -> None:
    """Every operation of the spec, 80 generated requests each (valid and not), with a
    valid token: none may be answered with a server error."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/score", "/v1/score/batch", "/v1/model"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(
                checks=[not_a_server_error], headers={"Authorization": f"Bearer {TOKEN}"}
            )

        no_server_error()
