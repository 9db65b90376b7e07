"""Kafka, Redis and a real Flink cluster, started once for these tests through the same
code as ``fraudlake stack up kafka redis flink``, on their own ports (+300) and state
folder, and stopped at the end with nothing left running."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fraudlake.features.definitions import FeatureSet, load_feature_set
from fraudlake.stack.manager import Stack
from fraudlake.stack.scratch import scratch_stack
from tests.flink.stream_run import Topics
from tests.streaming.conftest import create_topic

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["kafka", "redis", "flink"]


@pytest.fixture(scope="package")
def project_features() -> FeatureSet:
    """What the job computes: the project's own ``feature_defs/``."""
    return load_feature_set(REPO / "feature_defs")


@pytest.fixture(scope="package")
def stream_stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="fraudlake-flink-"))
    env = {
        # Two partitions: watermarks and ordering are per partition, as in production.
        "FRAUDLAKE_STACK_KAFKA__PARTITIONS": "2",
        "FRAUDLAKE_STACK_FLINK__CHECKPOINT_INTERVAL_S": "2",
    }
    try:
        with scratch_stack(root, 300, SERVICES, env) as stack:
            yield stack
    finally:
        if not os.environ.get("FRAUDLAKE_KEEP_TEST_STACK"):
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def topics(stream_stack: Stack) -> Iterator[Topics]:
    """Fresh two-partition topics and consumer group; an empty online store."""
    bootstrap = stream_stack.config.kafka_bootstrap
    run = uuid.uuid4().hex[:8]
    names = [create_topic(bootstrap, f"{base}-{run}") for base in ("tx", "labels", "features")]
    redis.Redis.from_url(stream_stack.config.redis_url).flushall()
    yield Topics(*names, group=f"features-{run}")
