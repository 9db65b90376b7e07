"""Jobs on the stack's Flink cluster: submit the streaming-features job, see it, cancel it.

Submission is the distribution's own ``flink run -d -py …`` with the cluster's
``FLINK_CONF_DIR`` (so the client finds the JobManager and ships the Kafka connector of
``pipeline.jars``); ``-pyfs src`` ships the ``fraudlake`` package the job's functions
import. The job is resumed from the newest retained checkpoint when there is one (after
``stack down``/``up`` or a cancel), so Kafka offsets, the stages' state and the
exactly-once ``features`` output carry on where they stopped; while the cluster runs,
Flink's own restart strategy restores the latest checkpoint after a failure.
Status and cancel go through the REST API with httpx.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fraudlake.stack.config import StackConfig
from fraudlake.stack.flink import FLINK_VENV, FlinkService, connector_jars, flink_home
from fraudlake.stack.install import install_root

FEATURES_JOB = "fraudlake-stream-features"
#: States in which a job holds (or is about to hold) the cluster's slots.
ACTIVE = frozenset({"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING"})


class FlinkJobError(RuntimeError):
    """A submit, cancel or wait failed; the message says why and where the log is."""


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    name: str
    state: str
    started: float
    completed_checkpoints: int
    latest_checkpoint: str | None


def _project() -> Path:
    """The project whose ``feature_defs/`` the job reads (as Airflow's DAGs do)."""
    return Path(os.environ.get("FRAUDLAKE_PROJECT_ROOT", Path.cwd())).resolve()


class FlinkJobs:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.service = FlinkService(config)
        self.http = httpx.Client(base_url=config.flink_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FlinkJobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------

    def get(self, path: str) -> Any:
        """``GET path`` of the REST API as JSON; :class:`FlinkJobError` saying what to do
        when the cluster is unreachable or answers anything but 200."""
        try:
            response = self.http.get(path)
        except httpx.HTTPError as exc:
            raise FlinkJobError(
                f"Flink REST API at {self.config.flink_url} unreachable ({exc}); is the "
                "cluster up? `fraudlake stack up flink`"
            ) from exc
        if response.status_code != 200:
            raise FlinkJobError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def jobs(self) -> list[JobStatus]:
        """Every job the cluster knows, newest first."""
        found = [self._status(job) for job in self.get("/jobs/overview").get("jobs", [])]
        return sorted(found, key=lambda j: j.started, reverse=True)

    def active(self, name: str = FEATURES_JOB) -> JobStatus | None:
        """The named job while it holds slots; its checkpoints are read only for it."""
        for job in self.get("/jobs/overview").get("jobs", []):
            if job["name"] == name and job["state"] in ACTIVE:
                return self._status(job)
        return None

    def _status(self, job: dict[str, Any]) -> JobStatus:
        checkpoints = self.get(f"/jobs/{job['jid']}/checkpoints")
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        return JobStatus(
            job_id=job["jid"],
            name=job["name"],
            state=job["state"],
            started=job.get("start-time", 0) / 1000,
            completed_checkpoints=int(checkpoints.get("counts", {}).get("completed", 0)),
            latest_checkpoint=latest.get("external_path"),
        )

    def latest_retained_checkpoint(self) -> Path | None:
        """The newest complete checkpoint in the cluster's checkpoint folder (a
        ``chk-N`` folder with its ``_metadata``), whatever job wrote it."""
        found = sorted(
            self.service.checkpoints_dir.glob("*/chk-*/_metadata"),
            key=lambda p: p.stat().st_mtime,
        )
        return found[-1].parent if found else None

    # -- acting -------------------------------------------------------------------------

    def submit_features_job(
        self, resume: bool = True, extra_args: list[str] | None = None, timeout: float = 180.0
    ) -> tuple[JobStatus, Path | None]:
        """Submit the streaming-features job unless it is active already; returns its
        status once RUNNING and the checkpoint it resumed from (None: fresh start)."""
        running = self.active()
        if running is not None:
            return running, None
        checkpoint = self.latest_retained_checkpoint() if resume else None
        args = [
            *("--redis-url", self.config.redis_url),
            *("--feature-defs", str(_project() / "feature_defs")),
            "--checkpoint-interval-ms",
            str(round(self.config.flink.checkpoint_interval_s * 1000)),
            *(extra_args or []),
        ]
        job = self.submit_python_job("stream_features.py", FEATURES_JOB, args, checkpoint, timeout)
        assert job is not None
        return job, checkpoint

    def submit_python_job(
        self,
        script: str,
        name: str,
        args: list[str],
        checkpoint: Path | None = None,
        timeout: float = 180.0,
        wait: bool = True,
    ) -> JobStatus | None:
        """``flink run -d -py flink_jobs/<script>`` with the PyFlink environment, the
        project's ``src`` and the connector jars, ``--bootstrap`` and ``--job-name``
        given; returns the job's status once RUNNING (``wait``), else None once the
        client has submitted it (a bounded job may finish before it could be seen)."""
        root = install_root()
        argv = ["bash", str(flink_home(root) / "bin" / "flink"), "run", "-d"]
        if checkpoint is not None:
            argv += ["-s", str(checkpoint)]
        argv += [
            *("-py", str(root / "flink_jobs" / script)),
            *("-pyexec", str(root / FLINK_VENV / "bin" / "python")),
            *("-pyfs", str(root / "src")),
            *("--bootstrap", self.config.kafka_bootstrap),
            *("--job-name", name),
            # The client plans the SQL sources too: the connector must be on its class
            # path, not only in the job's pipeline.jars.
            *[arg for jar in connector_jars(root) for arg in ("--jar", str(jar))],
            *args,
        ]
        log = self.service.log_dir / "submit.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            result = subprocess.run(
                argv,
                env={**os.environ, **self.service.env()},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=_project(),
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise FlinkJobError(
                f"`flink run` failed (exit {result.returncode}): {_cause(log.read_text())}; "
                f"the whole output is in {log}"
            )
        return self.wait_running(name, timeout=timeout) if wait else None

    def wait_running(self, name: str = FEATURES_JOB, timeout: float = 180.0) -> JobStatus:
        """Wait until the job is RUNNING (every task deployed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.active(name)
            if job is not None and job.state == "RUNNING":
                details = self.get(f"/jobs/{job.job_id}")
                states = {v["status"] for v in details.get("vertices", [])}
                if states == {"RUNNING"}:
                    return job
            time.sleep(1)
        raise FlinkJobError(
            f"job {name} not running after {timeout:.0f}s; see {self.config.flink_url} and "
            f"{self.service.log_dir}"
        )

    def cancel(self, job_id: str) -> None:
        response = self.http.patch(f"/jobs/{job_id}", params={"mode": "cancel"})
        if response.status_code not in (200, 202):
            raise FlinkJobError(f"cancel {job_id}: HTTP {response.status_code} {response.text}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = self.get(f"/jobs/{job_id}")["state"]
            if state not in ACTIVE and state != "CANCELLING":
                return
            time.sleep(0.5)
        raise FlinkJobError(f"job {job_id} still cancelling after 60 s")


def _cause(output: str) -> str:
    """The innermost ``Caused by`` of a Java stack trace (or the last Python error line)."""
    causes = [line for line in output.splitlines() if line.startswith("Caused by:")]
    useful = [c for c in causes if "Python process exits" not in c]
    if useful:
        return useful[-1].removeprefix("Caused by: ").strip()
    errors = [line for line in output.splitlines() if "Error" in line or "Exception" in line]
    return errors[-1].strip() if errors else "no error message"
