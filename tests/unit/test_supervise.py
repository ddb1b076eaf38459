"""`make demo` keeps its processes running: a child that stops is restarted with a growing pause."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from scripts.supervise import Supervisor

CRASH = [sys.executable, "-c", "import sys; sys.exit(3)"]
STAY = [sys.executable, "-c", "import time; time.sleep(60)"]


def _supervisor(tmp_path: Path, said: list[str]) -> Supervisor:
    return Supervisor(tmp_path, dict(os.environ), base_delay=0.1, max_delay=0.4, say=said.append)


def _until(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_child_that_crashes_is_restarted_with_backoff_and_the_others_keep_running(tmp_path):
    said: list[str] = []
    supervisor = _supervisor(tmp_path, said)
    crashing = supervisor.start("worker", CRASH)
    steady = supervisor.start("web", STAY)
    first_web = steady.process.pid
    try:
        assert _until(lambda: (supervisor.check(), crashing.restarts >= 4)[1])
        assert steady.process.pid == first_web and steady.process.poll() is None  # never touched
    finally:
        supervisor.stop()
    stops = [line for line in said if line.startswith("demo: worker stopped (exit 3)")]
    assert [line.rsplit("restarting in ", 1)[1] for line in stops[:4]] == [
        "0.1 s (restart 1)", "0.2 s (restart 2)", "0.4 s (restart 3)", "0.4 s (restart 4)",
    ]  # fmt: skip
    assert [supervisor.delay(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert "demo: restarting worker" in said
    assert steady.process.poll() is not None  # stop() ended it


def test_a_child_that_ran_a_while_before_stopping_starts_over_at_the_shortest_pause(tmp_path):
    said: list[str] = []
    supervisor = _supervisor(tmp_path, said)
    supervisor.healthy_after = 0.0
    child = supervisor.start("syncer", CRASH)
    try:
        for _ in range(3):
            assert _until(lambda: (supervisor.check(), child.restart_at is not None)[1])
            assert child.restarts == 1
            assert _until(lambda: (supervisor.check(), child.restart_at is None)[1])
    finally:
        supervisor.stop()
