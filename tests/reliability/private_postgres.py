"""A PostgreSQL cluster of the test's own (initdb in a temp dir, a free port) that it may stop and start.

The shared server at 127.0.0.1:5432 serves every engineer's tests, so an outage is staged on a private
cluster built from the installed binaries (/usr/lib/postgresql/*/bin). PostgreSQL refuses to run as root,
so under root the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


def binaries() -> Path | None:
    """The newest installed PostgreSQL bin directory with initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for path in reversed(found):
        if os.access(f"{path}/initdb", os.X_OK) and os.access(f"{path}/pg_ctl", os.X_OK):
            return Path(path)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """initdb + pg_ctl start/stop on a free loopback port; `url` points at its `postgres` database."""

    def __init__(self, root: Path) -> None:
        bindir = binaries()
        if bindir is None:
            raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = bindir
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pwd.getpwnam(self.user)  # KeyError when there is no such user: the caller skips
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.root, self.user)
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        # fsync off: the outage here is the server process going away, not the machine; committed data
        # is in the OS page cache either way, and the test stays fast on a busy disk.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "start"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = self._run(self.bin / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("private PostgreSQL did not start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash from the clients' point of view: connections drop without goodbye."""
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
