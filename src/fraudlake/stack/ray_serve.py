"""Ray Serve: a Ray head node on ``host`` running the scoring API.

One process in the table: ``ray start --head --block`` (it owns the GCS, raylet,
dashboard and the workers; ``stack down`` stops the group). Ray Serve runs in its
throughput-optimised mode with the HAProxy ingress that the ``ray[serve]`` wheel ships
(the default Python proxy costs most of a core on this scale); their switches are
environment variables read when Ray starts, so they are set here, on the head.

``after_start`` deploys ``ray_serve/serve_config.yaml`` with Ray's own ``serve deploy``
(through the dashboard's REST API, as on any cluster), ``http_options`` set from the
stack's config, and waits until the application runs. Replicas inherit the head's
environment: the stack's client settings (MLflow, Redis, Kafka), the API tokens and
``PYTHONPATH`` with the project root (so ``ray_serve.serve`` imports).

Ray keeps sockets in its temp folder, and unix socket paths must stay under 108 bytes, so
that folder is a short one in the system temp directory (``<tmp>/fl-ray-<gcs port>``);
``<state>/serve/ray`` links to it (logs: ``session_latest/logs``, replicas under
``serve/``). HAProxy's two read-only listeners (its stats page and Prometheus endpoint)
bind every interface — Ray's template has no setting for their address.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from fraudlake.stack.config import StackConfig
from fraudlake.stack.install import install_root
from fraudlake.stack.process import ProcessSpec
from fraudlake.stack.service import Service

#: The Serve config, relative to the project root (Ray's schema).
SERVE_CONFIG = Path("ray_serve/serve_config.yaml")
#: The application's name in that config.
APP_NAME = "scoring"
#: Seconds a stopping Ray head gets after SIGTERM before SIGKILL: its raylet exits in
#: ~9 s; `ray start --block`, the GCS and Serve's actors never do (`ray stop` waits 16 s).
RAY_STOP_GRACE_S = 10.0
DEPLOY_TIMEOUT_S = 180.0


class RayServeService(Service):
    name = "serve"
    requires = ("redis", "kafka", "mlflow")
    start_timeout = 90.0

    def __init__(self, config: StackConfig, env_overrides: dict[str, str] | None = None) -> None:
        super().__init__(config)
        #: Replaces parts of the replicas' environment (tests: an MLflow store of their own).
        self.env_overrides = dict(env_overrides or {})

    @property
    def ray_temp(self) -> Path:
        """Ray's temp folder (short: it holds unix sockets)."""
        return Path(tempfile.gettempdir()) / f"fl-ray-{self.config.serve.gcs_port}"

    @property
    def token_file(self) -> Path:
        return self.state_dir / "api-token"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.config.host}:{self.config.serve.dashboard_port}"

    def ports(self) -> dict[str, int]:
        s = self.config.serve
        return {
            "http": s.http_port,
            "gcs": s.gcs_port,
            "dashboard": s.dashboard_port,
            "metrics": s.metrics_port,
        }

    def urls(self) -> dict[str, str]:
        api = self.config.scoring_url
        return {
            "scoring API": f"{api}/v1/score",
            "API docs": f"{api}/docs",
            "Ray dashboard": self.dashboard_url,
            "metrics": f"http://{self.config.host}:{self.config.serve.metrics_port}/metrics",
        }

    def tokens(self) -> str:
        """The configured tokens, else the generated one (created on first call)."""
        if self.config.serve.api_tokens:
            return self.config.serve.api_tokens
        if not self.token_file.exists():
            self.token_file.parent.mkdir(parents=True, exist_ok=True)
            self.token_file.write_text(secrets.token_urlsafe(24))
            self.token_file.chmod(0o600)
        return self.token_file.read_text().strip()

    def login(self) -> str | None:
        first = self.tokens().split(",")[0]
        return f"Authorization: Bearer {first}"

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ray_temp.mkdir(parents=True, exist_ok=True)
        link = self.state_dir / "ray"
        if not link.is_symlink():
            link.symlink_to(self.ray_temp, target_is_directory=True)
        self.tokens()

    def haproxy_env(self) -> dict[str, str]:
        folder = self.ray_temp / "haproxy"
        folder.mkdir(parents=True, exist_ok=True)
        s = self.config.serve
        return {
            "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
            "RAY_SERVE_ENABLE_HA_PROXY": "1",
            "RAY_SERVE_HAPROXY_NBTHREAD": "1",
            "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(folder / "haproxy.cfg"),
            "RAY_SERVE_HAPROXY_SOCKET_PATH": str(folder / "admin.sock"),
            "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(folder),
            "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(folder / "server-state"),
            "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(folder / "metrics.sock"),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(s.haproxy_metrics_port),
            "RAY_SERVE_HAPROXY_STATS_PORT": str(s.haproxy_stats_port),
            "RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S": "60",
            # A request in flight on a replica that dies is sent again to another: scoring
            # is idempotent (the same transaction gets the same answer; the decision
            # record may then be published twice, keyed by the transaction id).
            "RAY_SERVE_HAPROXY_RETRY_ON": "conn-failure empty-response response-timeout",
            "RAY_SERVE_HAPROXY_RETRIES": "3",
            # Stopping a replica waits this long for its requests (default 30 s).
            "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5",
        }

    def env(self) -> dict[str, str]:
        root = install_root()
        pythonpath = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
        return {
            **self.config.client_env(),
            **self.haproxy_env(),
            "FRAUDLAKE_API_TOKENS": self.tokens(),
            "FRAUDLAKE_PARAMS": str(root / "params.yaml"),
            "FRAUDLAKE_HOME": str(root / ".fraudlake"),
            "PYTHONPATH": pythonpath,
            # Keep --node-ip-address 127.0.0.1 as given (Ray rewrites it otherwise).
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
            **self.env_overrides,
        }

    def processes(self) -> list[ProcessSpec]:
        cfg = self.config
        s = cfg.serve
        ray = str(Path(sys.executable).parent / "ray")
        argv = [
            ray,
            "start",
            "--head",
            "--block",
            "--node-ip-address",
            cfg.host,
            "--port",
            str(s.gcs_port),
            "--dashboard-host",
            cfg.host,
            "--dashboard-port",
            str(s.dashboard_port),
            "--dashboard-agent-listen-port",
            str(s.dashboard_agent_port),
            "--dashboard-agent-grpc-port",
            str(s.dashboard_agent_grpc_port),
            "--runtime-env-agent-port",
            str(s.runtime_env_agent_port),
            "--node-manager-port",
            str(s.node_manager_port),
            "--object-manager-port",
            str(s.object_manager_port),
            "--ray-client-server-port",
            str(s.client_server_port),
            "--metrics-export-port",
            str(s.metrics_port),
            "--num-cpus",
            str(s.num_cpus),
            "--object-store-memory",
            str(_bytes(s.object_store_memory)),
            "--temp-dir",
            str(self.ray_temp),
            "--disable-usage-stats",
        ]
        # A Ray head keeps nothing that needs a clean exit (Serve is deployed again at
        # `up`): a short grace instead of 20 s of waiting for what never exits.
        return [
            ProcessSpec(
                "ray", argv, env=self.env(), cwd=install_root(), stop_timeout_s=RAY_STOP_GRACE_S
            )
        ]

    def healthy(self) -> bool:
        """The GCS answers (through the dashboard) and so does the node's raylet (through
        its dashboard agent, which answers only once the raylet has its ports): the
        GCS alone answers while a raylet that is about to abort still starts."""
        agent = f"http://{self.config.host}:{self.config.serve.dashboard_agent_port}"
        try:
            for url in (
                f"{self.dashboard_url}/api/gcs_healthz",
                f"{agent}/api/local_raylet_healthz",
            ):
                if httpx.get(url, timeout=2.0).status_code != 200:
                    return False
        except httpx.HTTPError:
            return False
        return True

    # -- the application -----------------------------------------------------------------

    def serve_config(self) -> dict[str, Any]:
        """``ray_serve/serve_config.yaml`` with ``http_options`` of this stack."""
        config: dict[str, Any] = yaml.safe_load((install_root() / SERVE_CONFIG).read_text())
        config["http_options"] = {
            **config.get("http_options", {}),
            "host": self.config.host,
            "port": self.config.serve.http_port,
        }
        return config

    def deploy(self, config: dict[str, Any] | None = None) -> None:
        """``serve deploy`` the config (default :meth:`serve_config`) and wait until the
        application runs; RuntimeError naming the replicas' logs otherwise."""
        path = self.state_dir / "serve_config.yaml"
        path.write_text(yaml.safe_dump(config or self.serve_config(), sort_keys=False))
        serve_cli = str(Path(sys.executable).parent / "serve")
        done = subprocess.run(
            [serve_cli, "deploy", str(path), "--address", self.dashboard_url],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            cwd=install_root(),
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"serve deploy {path} failed:\n{done.stderr[-2000:]}")
        self.wait_running()

    def applications(self) -> dict[str, Any]:
        """Ray's view of the Serve applications (``GET /api/serve/applications/``)."""
        reply = httpx.get(f"{self.dashboard_url}/api/serve/applications/", timeout=10.0)
        reply.raise_for_status()
        apps: dict[str, Any] = reply.json().get("applications", {})
        return apps

    def wait_running(self, timeout: float = DEPLOY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        status, message = "NOT_STARTED", ""
        while time.monotonic() < deadline:
            app = self.applications().get(APP_NAME, {})
            status, message = app.get("status", "NOT_STARTED"), app.get("message", "")
            if status == "RUNNING":
                return
            if status == "DEPLOY_FAILED":
                break
            time.sleep(1.0)
        logs = self.ray_temp / "session_latest" / "logs" / "serve"
        raise RuntimeError(
            f"scoring application {status} after deploy: {message[-1500:]}\nreplica logs: {logs}"
        )

    def after_start(self) -> None:
        self.deploy()


def _bytes(size: str) -> int:
    """``256MB`` / ``1GB`` / ``1000000`` → bytes."""
    units = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}
    text = size.strip().upper()
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)
