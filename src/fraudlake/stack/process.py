"""Run a service's processes detached, remember their pids, stop exactly those.

A started process leads its own session (and process group), its output appended to
``<state>/logs/<name>.log`` and its pid written to ``<state>/run/<name>.pid`` together with
its start time, so ``stop`` never signals an unrelated process that reused the pid.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fraudlake.stack.system_user import user_ids

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of a service: a unique ``name`` (pid and log file names),
    its ``argv``, extra environment, working directory and the user to run it as (None:
    ours); how it is asked to stop (``stop_signal``) and how long it gets before SIGKILL
    (``stop_timeout_s``)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout_s: float = 20.0


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/<pid>/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; fields after it are space-separated
    rest = stat[stat.rindex(")") + 2 :].split()
    if rest[0] == "Z":  # a zombie has exited
        return None
    return int(rest[19])


class ProcessTable:
    """Pid files and logs of the processes started from one state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _pid_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The pid of ``name`` if we started it and it still runs, else None."""
        path = self._pid_path(name)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        pid = int(record["pid"])
        if _start_ticks(pid) != record["start_ticks"]:
            return None
        return pid

    def running(self, name: str) -> bool:
        return self.pid(name) is not None

    def start(self, spec: ProcessSpec) -> int:
        """Start ``spec`` unless it already runs; returns its pid."""
        existing = self.pid(spec.name)
        if existing is not None:
            return existing
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **spec.env}
        uid, gid, groups = user_ids(spec.user)
        with self.log_path(spec.name).open("ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')}: {spec.argv}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=spec.cwd,
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        ticks = _start_ticks(proc.pid)
        self._pid_path(spec.name).write_text(
            json.dumps({"pid": proc.pid, "start_ticks": ticks, "argv": list(spec.argv)})
        )
        return proc.pid

    def exited_early(self, name: str) -> bool:
        """True when a pid file exists but its process is gone (it crashed on start)."""
        return self._pid_path(name).exists() and not self.running(name)

    def stop(
        self, name: str, timeout: float = 20.0, stop_signal: signal.Signals = signal.SIGTERM
    ) -> bool:
        """Send ``stop_signal`` to every process of the session ``name`` leads, SIGKILL
        after ``timeout`` s. Returns True when something was stopped. Removes the pid file
        either way."""
        pid = self.pid(name)
        self._pid_path(name).unlink(missing_ok=True)
        if pid is None:
            return False
        started = time.monotonic()
        _signal_session(pid, stop_signal)
        deadline = started + timeout
        while time.monotonic() < deadline:
            reap_children()  # when we started it ourselves (tests), collect the exit
            if not _session_alive(pid):
                logger.info("stopped %s (pid %d) in %.1f s", name, pid, time.monotonic() - started)
                return True
            time.sleep(0.2)
        left = [command_line(p)[:120] for p in session_pids({pid})]
        _signal_session(pid, signal.SIGKILL)
        while _session_alive(pid):
            reap_children()
            time.sleep(0.1)
        logger.warning(
            "%s (pid %d) did not stop within %.0f s of %s; killed %d process(es) %s (its log: %s)",
            name,
            pid,
            timeout,
            stop_signal.name,
            len(left),
            left[:5],
            self.log_path(name),
        )
        return True

    def stop_spec(self, spec: ProcessSpec) -> bool:
        """:meth:`stop` the process of ``spec`` with its own signal and grace."""
        return self.stop(spec.name, spec.stop_timeout_s, spec.stop_signal)

    def tail(self, name: str, lines: int = 50) -> list[str]:
        """The last ``lines`` lines of ``name``'s log (empty if none)."""
        path = self.log_path(name)
        if not path.exists():
            return []
        return path.read_text(errors="replace").splitlines()[-lines:]


def _signal_session(sid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to every process of session ``sid`` — its own process group and any
    group a child made (Ray's workers and HAProxy leave the leader's group)."""
    for pid in session_pids({sid}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def command_line(pid: int) -> str:
    """The command line of process ``pid``, arguments joined by spaces ('' when gone)."""
    try:
        text = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return text.replace(b"\0", b" ").decode(errors="replace").strip()


def session_pids(sids: set[int]) -> list[int]:
    """Live (non-zombie) processes of the sessions ``sids`` (every process we start leads
    a session of its own, so its pid is the session id)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2 :].split()
        if rest[0] != "Z" and int(rest[3]) in sids:
            pids.append(int(stat.parent.name))
    return pids


def _session_alive(sid: int) -> bool:
    """Whether any live (non-zombie) process is still in session ``sid``."""
    return bool(session_pids({sid}))


def session_memory_bytes(sids: set[int]) -> int:
    """Proportional set size (PSS) summed over every live process of the sessions
    ``sids`` — children included (Airflow's workers, PostgreSQL's backends, Ray's
    workers). PSS splits shared pages between their users, so sums over services do not
    double count."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            rest = text[text.rindex(")") + 2 :].split()
            if int(rest[3]) not in sids:
                continue
            rollup = (stat.parent / "smaps_rollup").read_text()
        except (OSError, ValueError):
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def reap_children() -> None:
    """Collect exited children of this process so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
