"""Real worker processes (`flask worker`) against the test database, for concurrency and crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from app.models import InboxEvent
from tests.conftest import TEST_ENV

ROOT = Path(__file__).resolve().parents[3]


def worker_env(database_url: str) -> dict[str, str]:
    """The environment a deployed worker would have, pointed at the test database."""
    env = dict(os.environ)
    env.update(TEST_ENV)
    env.update(DATABASE_URL=database_url, FLASK_APP="app:create_app", PYTHONUNBUFFERED="1")
    return env


def start_worker(database_url: str, log_path: Path, *, lease_seconds: float = 30, once: bool = False):
    """`flask worker` in a process of its own (its own engine and connections), output to a log file."""
    args = [
        sys.executable,
        "-m",
        "flask",
        "worker",
        "--lease-seconds",
        str(lease_seconds),
        "--idle-sleep",
        "0.05",
        "--batch-size",
        "10",
        "--no-reconcile",
    ]
    if once:
        args.append("--once")
    log = log_path.open("ab")
    return subprocess.Popen(
        args, cwd=ROOT, env=worker_env(database_url), stdout=log, stderr=subprocess.STDOUT
    )


def stop_workers(processes: list[subprocess.Popen], timeout: float = 30) -> list[int]:
    """SIGTERM each worker (it finishes its row) and wait; returns exit codes."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    return [process.wait(timeout=timeout) for process in processes]


def open_rows(session) -> int:
    """Rows not finished yet (pending or processing)."""
    session.rollback()  # a fresh snapshot
    count = session.scalar(select(func.count()).where(InboxEvent.status.in_(("pending", "processing")))) or 0
    session.rollback()  # and no transaction left open: on SQLite it would hold the workers' write lock
    return count


def wait_until_drained(session, *, timeout: float, settle: float = 0.5) -> float:
    """Block until no row is pending or processing; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if open_rows(session) == 0:
            time.sleep(settle)
            if open_rows(session) == 0:
                return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"inbox not drained after {timeout} s: {open_rows(session)} rows open")


def relax_durability(db) -> None:
    """PostgreSQL: commit without waiting for the WAL flush, for this throwaway database only.

    These tests kill worker *processes*; a committed transaction survives that either way (only a server
    crash could lose an unflushed commit), so the guarantees under test are unchanged, and commits stop
    costing a disk flush each.
    """
    if db.engine.dialect.name != "postgresql":
        return
    name = db.engine.url.database
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    db.engine.dispose()  # new connections pick the setting up


def wait_until_started(log_path: Path, timeout: float) -> None:
    """Block until the worker printed that its loop started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.exists() and b": started" in log_path.read_bytes():
            return
        time.sleep(0.1)
    raise AssertionError(f"worker did not start within {timeout} s ({log_path.name})")
