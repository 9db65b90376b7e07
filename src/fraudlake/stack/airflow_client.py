"""Airflow's REST API (``/api/v2``) through httpx: log in, wait for a DAG, trigger a run,
follow it to the end. What ``make demo``, ``fraudlake stack trigger`` and the integration
tests use — the same calls a data engineer's scripts would make.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

#: Run states after which nothing changes any more.
FINISHED = frozenset({"success", "failed"})


class AirflowApiError(RuntimeError):
    """The API refused a call or a wait ran out; the message says which and why."""


@dataclass(frozen=True)
class RunResult:
    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str | None]
    seconds: float

    @property
    def failed_tasks(self) -> list[str]:
        return [t for t, s in self.task_states.items() if s in {"failed", "upstream_failed"}]


class AirflowClient:
    """A logged-in client of one Airflow API server."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        response = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=timeout,
        )
        if response.status_code not in (200, 201):
            raise AirflowApiError(
                f"login as {username!r} at {self.base_url} failed ({response.status_code}): "
                f"{response.text[:200]}"
            )
        token = response.json()["access_token"]
        self.http = httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 400:
            raise AirflowApiError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's details, or None while the DAG processor has not parsed it yet."""
        response = self.http.get(f"/dags/{dag_id}")
        if response.status_code == 404:
            return None
        return dict(self._json(response, f"get DAG {dag_id}"))

    def import_errors(self) -> list[dict[str, Any]]:
        body = self._json(self.http.get("/importErrors"), "list import errors")
        return list(body.get("import_errors", []))

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the DAG is parsed; raises naming any import error of its file."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.dag(dag_id)
            if found is not None:
                return found
            time.sleep(2)
        errors = "; ".join(
            f"{e.get('filename')}: {e.get('stack_trace', '')[-300:]}" for e in self.import_errors()
        )
        raise AirflowApiError(
            f"DAG {dag_id} not parsed after {timeout:.0f}s"
            + (f"; import errors: {errors}" if errors else "")
        )

    def unpause(self, dag_id: str) -> None:
        self._json(
            self.http.patch(f"/dags/{dag_id}", json={"is_paused": False}), f"unpause {dag_id}"
        )

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, note: str | None = None
    ) -> str:
        """Start a run now; returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if note:
            body["note"] = note
        run = self._json(self.http.post(f"/dags/{dag_id}/dagRuns", json=body), f"trigger {dag_id}")
        return str(run["dag_run_id"])

    def latest_run(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's newest run (``dag_run_id``, ``state``, ``note``, ``triggered_by``…), or
        None when it never ran."""
        body = self._json(
            self.http.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "-id", "limit": 1}),
            f"list runs of {dag_id}",
        )
        runs = body.get("dag_runs", [])
        return dict(runs[0]) if runs else None

    def run_state(self, dag_id: str, run_id: str) -> str:
        run = self._json(self.http.get(f"/dags/{dag_id}/dagRuns/{run_id}"), f"get run {run_id}")
        return str(run["state"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        body = self._json(
            self.http.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"),
            f"list tasks of {run_id}",
        )
        return {ti["task_id"]: ti["state"] for ti in body.get("task_instances", [])}

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """One task instance of a run: ``state``, ``try_number``, ``pid``, ``hostname``…"""
        return dict(
            self._json(
                self.http.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"),
                f"get task {task_id} of {run_id}",
            )
        )

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 1800.0,
        on_progress: Callable[[dict[str, str | None]], None] = lambda states: None,
        poll: float = 3.0,
    ) -> RunResult:
        """Poll until the run finishes; ``on_progress`` gets the task states each poll."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            states = self.task_states(dag_id, run_id)
            on_progress(states)
            state = self.run_state(dag_id, run_id)
            if state in FINISHED:
                return RunResult(
                    dag_id,
                    run_id,
                    state,
                    self.task_states(dag_id, run_id),
                    time.monotonic() - started,
                )
            time.sleep(poll)
        raise AirflowApiError(f"run {run_id} of {dag_id} not finished after {timeout:.0f}s")
