"""The demo's child processes, kept running: a child that exits is started again after a growing pause.

One crashed process (the worker on a database hiccup, the syncer on a bug) used to end the whole demo; now
it is restarted with backoff (1 s, 2 s, 4 s ... at most 30 s; back to 1 s once it has run for a minute)
and the demo says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    """One supervised process: what to run, the running process, and its restart bookkeeping."""

    name: str
    cmd: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0  # restarts in a row without a minute of running in between
    restart_at: float | None = None  # when a stopped child is started again


@dataclass
class Supervisor:
    """Starts children, restarts the ones that stop, stops them all at the end."""

    cwd: Path
    env: dict[str, str]
    base_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 60.0  # seconds of running that reset the backoff
    say: Callable[[str], None] = field(default=lambda text: print(text, flush=True))
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, cmd: list[str]) -> Child:
        child = Child(name, cmd)
        self.children.append(child)
        self.say(f"demo: starting {name}")
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.cmd, cwd=self.cwd, env=self.env, start_new_session=True)
        child.started_at, child.restart_at = time.monotonic(), None

    def delay(self, restarts: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** max(restarts - 1, 0))

    def check(self) -> None:
        """Notice children that stopped and start the ones whose pause is over (call every second or so)."""
        now = time.monotonic()
        for child in self.children:
            process = child.process
            if child.restart_at is None and process is not None and process.poll() is not None:
                ran = now - child.started_at
                child.restarts = 1 if ran >= self.healthy_after else child.restarts + 1
                pause = self.delay(child.restarts)
                child.restart_at = now + pause
                self.say(
                    f"demo: {child.name} stopped (exit {process.returncode}); "
                    f"restarting in {pause:g} s (restart {child.restarts})"
                )
            elif child.restart_at is not None and now >= child.restart_at:
                self.say(f"demo: restarting {child.name}")
                self._spawn(child)

    def run(self, interval: float = 1.0, until: Callable[[], bool] = lambda: False) -> None:
        """Keep checking until `until()` says stop (Ctrl-C ends it through KeyboardInterrupt)."""
        while not until():
            self.check()
            time.sleep(interval)

    def stop(self) -> None:
        """SIGTERM every running child's process group, SIGKILL what is still there after 10 s."""
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
