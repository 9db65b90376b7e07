from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.features.conftest import feature_set
from tests.services import running_redis

__all__ = ["feature_set"]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    with running_redis(Path(tmp_path_factory.mktemp("redis"))) as client:
        yield client


@pytest.fixture
def online(redis_server: redis.Redis) -> redis.Redis:
    """The module's Redis, emptied for each test."""
    redis_server.flushall()
    return redis_server
