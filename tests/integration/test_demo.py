"""`make demo` on a fresh database: the emulator, the app and its worker come up, the shop installs itself."""

from __future__ import annotations

import subprocess
import sys

from bench.servers import ROOT, free_port


def test_demo_starts_installs_and_answers(tmp_path):
    result = subprocess.run(
        [
            sys.executable, "-m", "scripts.demo", "--check", "--fresh", "--customers", "200",
            "--app-port", str(free_port()), "--emulator-port", str(free_port()),
            "--database", str(tmp_path / "demo.sqlite3"),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert '"GET /healthz" 200' in result.stdout + result.stderr
    assert "installed; the backfill loads its history" in result.stdout
    assert "/store/tsunagu-demo/apps/tsunagu" in result.stdout
