"""Start and stop the processes a benchmark measures: gunicorn apps on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOGS = Path(tempfile.gettempdir()) / "tsunagu-bench" / "logs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(
    target: str,
    env: dict[str, str],
    workers: int = 3,
    threads: int = 4,
    ready_path: str = "/healthz",
    ready_status: tuple[int, ...] = (200,),
) -> Iterator[str]:
    """Run `gunicorn target` on a free port until the block ends; yields the base URL."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        target,
    ]
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"gunicorn-{port}.log"  # the app logs a line per webhook: kept out of the table
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded 2-core machine imports the app slowly
        while True:
            try:
                if httpx.get(base + ready_path, timeout=1).status_code in ready_status:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not start; see {log_path}")
            time.sleep(0.1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
