"""The process table starts detached sessions and stops exactly what it started."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from fraudlake.stack.process import ProcessSpec, ProcessTable

# a parent that forks a child and both sleep: stop must take the whole group down
FAMILY = (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    time.sleep(600)\n"
    "else:\n"
    "    print('parent up', flush=True); time.sleep(600)\n"
)


def _live(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_start_is_idempotent_and_stop_kills_the_whole_group(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    spec = ProcessSpec("family", [sys.executable, "-c", FAMILY])
    pid = table.start(spec)
    assert table.start(spec) == pid  # already running: not started twice
    deadline = time.monotonic() + 10
    while not _children(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    (child,) = _children(pid)
    assert table.running("family") and _live(child)

    assert table.stop("family", timeout=5)
    assert not _live(pid) and not _live(child)
    assert table.pid("family") is None
    assert not table.stop("family")  # nothing left to stop
    assert "parent up" in "\n".join(table.tail("family"))


# a child that leaves its parent's process group (as Ray's workers and HAProxy do) but
# stays in the session: stop must reach it too
ESCAPING_CHILD = (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setpgid(0, 0)\n"
    "    time.sleep(600)\n"
    "else:\n"
    "    time.sleep(600)\n"
)


def test_stop_reaches_a_child_in_another_process_group_of_the_session(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    pid = table.start(ProcessSpec("escaper", [sys.executable, "-c", ESCAPING_CHILD]))
    deadline = time.monotonic() + 10
    while not _children(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    (child,) = _children(pid)
    deadline = time.monotonic() + 10
    while os.getpgid(child) == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.getpgid(child) != pid and os.getsid(child) == pid
    assert table.stop("escaper", timeout=5)
    assert not _live(pid) and not _live(child)


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    pid = table.start(ProcessSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"]))
    try:
        record_path = tmp_path / "run" / "sleeper.pid"
        record = json.loads(record_path.read_text())
        # same pid, other start time: a different process now holds that pid
        record_path.write_text(json.dumps({**record, "start_ticks": record["start_ticks"] + 1}))
        assert table.pid("sleeper") is None
        assert not table.stop("sleeper")  # never signals a process we did not start
        assert _live(pid)
    finally:
        record_path.write_text(json.dumps(record))
        table.stop("sleeper", timeout=5)
    assert not _live(pid)


# a process that ignores SIGTERM: stop kills it after the grace and says so
STUBBORN = (
    "import pathlib, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "pathlib.Path(sys.argv[1]).touch()\n"
    "time.sleep(600)\n"
)


def test_stop_kills_what_outlives_its_grace_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table = ProcessTable(tmp_path)
    ready = tmp_path / "ignoring-sigterm"
    pid = table.start(ProcessSpec("stubborn", [sys.executable, "-c", STUBBORN, str(ready)]))
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert time.monotonic() < deadline, table.tail("stubborn")
        time.sleep(0.1)
    with caplog.at_level(logging.INFO, logger="fraudlake.stack.process"):
        assert table.stop("stubborn", timeout=1)
    assert not _live(pid)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "stubborn" in message and "did not stop within 1 s" in message
    assert STUBBORN.splitlines()[0] in message  # the command that had to be killed
    assert str(table.log_path("stubborn")) in message

    table.start(ProcessSpec("quick", [sys.executable, "-c", "import time; time.sleep(60)"]))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fraudlake.stack.process"):
        assert table.stop("quick", timeout=5)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert caplog.records[0].getMessage().startswith("stopped quick (pid ")
