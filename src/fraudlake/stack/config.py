"""Ports, credentials and paths of the local stack: ``infra/stack.yaml``, overridden by
environment variables ``FRAUDLAKE_STACK_<SECTION>__<KEY>`` (e.g.
``FRAUDLAKE_STACK_POSTGRES__PORT=55433``) or ``FRAUDLAKE_STACK_STATE_DIR``.

Everything binds to ``host`` (127.0.0.1). :meth:`StackConfig.client_env` is the
environment under which the pipeline, DVC, MLflow and Airflow tasks use the stack
instead of the embedded default.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

#: The config file, relative to the project root; ``FRAUDLAKE_STACK_CONFIG`` moves it.
DEFAULT_CONFIG = Path("infra/stack.yaml")


class S3Config(BaseModel):
    port: int = 8333
    master_port: int = 9333
    volume_port: int = 8334
    filer_port: int = 8888
    admin_port: int = 23646
    access_key: str = "fraudlake"
    secret_key: str = "fraudlake-secret-key"
    region: str = "us-east-1"
    lake_bucket: str = "fraudlake-lake"
    dvc_bucket: str = "fraudlake-dvc"
    mlflow_bucket: str = "fraudlake-mlflow"

    @property
    def buckets(self) -> list[str]:
        return [self.lake_bucket, self.dvc_bucket, self.mlflow_bucket]


class KafkaConfig(BaseModel):
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    topics: list[str] = Field(
        default_factory=lambda: ["transactions", "features", "decisions", "labels"]
    )
    partitions: int = 1


class PostgresConfig(BaseModel):
    port: int = 55432
    user: str = "fraudlake"
    password: str = "fraudlake"
    databases: list[str] = Field(default_factory=lambda: ["iceberg", "mlflow", "airflow"])


class RedisConfig(BaseModel):
    port: int = 56379


class MlflowConfig(BaseModel):
    port: int = 5000
    workers: int = 1


class AirflowConfig(BaseModel):
    port: int = 8080
    parallelism: int = 4
    admin_user: str = "admin"
    dags_paused_at_creation: bool = False
    #: False: the scheduler starts no scheduled runs, only triggered ones (tests, demos).
    run_schedules: bool = True


class FlinkConfig(BaseModel):
    """A standalone session cluster: one JobManager, one TaskManager. Every port is
    pinned (Flink picks random ones for blob, TaskManager RPC/data and the metric query
    services otherwise) and bound to ``host``."""

    rest_port: int = 8081  # REST API and web UI
    rpc_port: int = 6123  # JobManager RPC
    blob_port: int = 6124  # JobManager blob server (job jars, Python files)
    taskmanager_rpc_port: int = 6125
    taskmanager_data_port: int = 6126  # shuffle between TaskManagers
    jobmanager_metrics_port: int = 6127  # internal metric query service, per process
    taskmanager_metrics_port: int = 6128
    task_slots: int = Field(default=2, ge=1)
    jobmanager_memory: str = "1024m"  # total process size (heap, metaspace, overhead)
    taskmanager_memory: str = "1536m"
    checkpoint_interval_s: float = Field(default=5.0, gt=0)


class ServeConfig(BaseModel):
    """A Ray head node (``ray start --head``) running the scoring API with Ray Serve's
    throughput-optimised mode and HAProxy ingress. Every Ray listener is pinned to a port
    here (Ray picks random ones otherwise) except the workers' range."""

    http_port: int = 8000  # the scoring API (HAProxy in front of the replicas)
    gcs_port: int = 6380  # Ray's cluster address (GCS)
    dashboard_port: int = 8265  # Ray dashboard + the REST API `serve deploy` talks to
    metrics_port: int = 8090  # Prometheus metrics of Ray, Serve and the scoring API
    dashboard_agent_port: int = 8266  # the node's dashboard agent (HTTP)
    dashboard_agent_grpc_port: int = 8267
    runtime_env_agent_port: int = 8268
    node_manager_port: int = 8269
    object_manager_port: int = 8270
    client_server_port: int = 8271  # Ray Client (ray://)
    haproxy_metrics_port: int = 8272  # HAProxy's own Prometheus endpoint
    haproxy_stats_port: int = 8273
    num_cpus: int = Field(default=2, ge=1)
    object_store_memory: str = "256MB"
    #: Bearer tokens the API accepts (comma-separated); empty: one is generated into
    #: ``<state>/serve/api-token`` on first start.
    api_tokens: str = ""


class StackConfig(BaseSettings):
    """The local stack's configuration (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUDLAKE_STACK_", env_nested_delimiter="__", extra="ignore"
    )

    state_dir: Path = Path(".fraudlake/stack")
    host: str = "127.0.0.1"
    s3: S3Config = S3Config()
    kafka: KafkaConfig = KafkaConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    mlflow: MlflowConfig = MlflowConfig()
    airflow: AirflowConfig = AirflowConfig()
    flink: FlinkConfig = FlinkConfig()
    serve: ServeConfig = ServeConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("FRAUDLAKE_STACK_CONFIG", DEFAULT_CONFIG))
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir.resolve()

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.s3.port}"

    def postgres_uri(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        pg = self.postgres
        return f"{driver}://{pg.user}:{pg.password}@{self.host}:{pg.port}/{database}"

    @property
    def mlflow_uri(self) -> str:
        return f"http://{self.host}:{self.mlflow.port}"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.host}:{self.airflow.port}"

    @property
    def flink_url(self) -> str:
        return f"http://{self.host}:{self.flink.rest_port}"

    @property
    def scoring_url(self) -> str:
        return f"http://{self.host}:{self.serve.http_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka.port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis.port}/0"

    def client_env(self) -> dict[str, str]:
        """Environment that points fraudlake, boto3/DVC and MLflow clients at the stack."""
        s3 = self.s3
        return {
            "FRAUDLAKE_CATALOG_URI": self.postgres_uri("iceberg"),
            "FRAUDLAKE_WAREHOUSE": f"s3://{s3.lake_bucket}/warehouse",
            "FRAUDLAKE_S3_ENDPOINT": self.s3_endpoint,
            "FRAUDLAKE_S3_ACCESS_KEY": s3.access_key,
            "FRAUDLAKE_S3_SECRET_KEY": s3.secret_key,
            "FRAUDLAKE_S3_REGION": s3.region,
            "FRAUDLAKE_MLFLOW_TRACKING_URI": self.mlflow_uri,
            "FRAUDLAKE_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "FRAUDLAKE_REDIS_URL": self.redis_url,
            "FRAUDLAKE_FLINK_URL": self.flink_url,
            "FRAUDLAKE_SCORING_URL": self.scoring_url,
            # boto3 (DVC's S3 remote, MLflow artifact uploads) reads these
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint,
            "MLFLOW_TRACKING_URI": self.mlflow_uri,
        }


def load_stack_config() -> StackConfig:
    """The configuration from ``infra/stack.yaml`` and the environment."""
    return StackConfig()


#: Stack config sections that have ports.
PORT_SECTIONS = ("s3", "kafka", "postgres", "redis", "mlflow", "airflow", "flink", "serve")


def offset_ports_env(offset: int) -> dict[str, str]:
    """``FRAUDLAKE_STACK_<SECTION>__<PORT>`` overrides moving every default port of the
    stack by ``offset``: a second stack (tests, benchmarks) beside a developer's own."""
    defaults = StackConfig.model_construct()  # no file, no env: the built-in ports
    env: dict[str, str] = {}
    for section in PORT_SECTIONS:
        for key, value in getattr(defaults, section).model_dump().items():
            if key.endswith("port"):
                env[f"FRAUDLAKE_STACK_{section.upper()}__{key.upper()}"] = str(value + offset)
    return env
