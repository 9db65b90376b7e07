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
from fraudlake.stack.config import StackConfig
from fraudlake.stack.manager import Stack
from tests.flink.stream_run import Topics
from tests.services import offset_ports_env, stack_processes
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
        **offset_ports_env(300),
        "FRAUDLAKE_STACK_STATE_DIR": str(root / "state"),
        "FRAUDLAKE_STACK_CONFIG": str(REPO / "infra" / "stack.yaml"),
        # Two partitions: watermarks and ordering are per partition, as in production.
        "FRAUDLAKE_STACK_KAFKA__PARTITIONS": "2",
        "FRAUDLAKE_STACK_FLINK__CHECKPOINT_INTERVAL_S": "2",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    stack = Stack(StackConfig())
    try:
        stack.up(SERVICES)
        yield stack
    finally:
        stack.down(SERVICES)
        leftovers = stack_processes(stack.config.resolved_state_dir)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not os.environ.get("FRAUDLAKE_KEEP_TEST_STACK"):
            shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"processes left after stack down: {leftovers}"


@pytest.fixture
def topics(stream_stack: Stack) -> Iterator[Topics]:
    """Fresh two-partition topics and consumer group; an empty online store."""
    bootstrap = stream_stack.config.kafka_bootstrap
    run = uuid.uuid4().hex[:8]
    names = [create_topic(bootstrap, f"{base}-{run}") for base in ("tx", "labels", "features")]
    redis.Redis.from_url(stream_stack.config.redis_url).flushall()
    yield Topics(*names, group=f"features-{run}")
