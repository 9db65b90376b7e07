"""Where the scoring service reads and writes, and who may call it: the environment.

The local stack sets every variable for the Ray head (``fraudlake stack up`` /
``fraudlake serve up``), and replicas inherit them; on a Ray cluster, put them in the
deployment's ``runtime_env.env_vars``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from fraudlake.settings import Settings


class ServingSettings(Settings):
    redis_url: str = Field("redis://127.0.0.1:56379/0", description="the online store")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="for Kafka `decisions`")
    api_tokens: SecretStr = Field(
        SecretStr(""), description="comma-separated bearer tokens the API accepts"
    )
    redis_timeout_s: float = Field(0.05, gt=0, description="online-store read timeout")
    params: Path = Field(Path("params.yaml"), description="decision thresholds, feature defs")
    compiled_models_dir: Path | None = Field(
        None, description="cache of compiled models (default: <home>/compiled-models)"
    )

    @property
    def resolved_compiled_models_dir(self) -> Path:
        return self.compiled_models_dir or self.resolved_home / "compiled-models"

    def tokens(self) -> frozenset[str]:
        """The accepted bearer tokens; ValueError naming the variable when there are none
        (an API without tokens would answer anyone)."""
        tokens = frozenset(
            t.strip() for t in self.api_tokens.get_secret_value().split(",") if t.strip()
        )
        if not tokens:
            raise ValueError(
                "no API tokens configured: set FRAUDLAKE_API_TOKENS to a comma-separated "
                "list of bearer tokens (`fraudlake stack up` generates one)"
            )
        return tokens
