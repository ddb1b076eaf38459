"""The e2e stack as local processes: the Shopify emulator and the app, on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on right now (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 120.0) -> None:
    """Poll until `url` answers 200; fail early if the process died."""
    deadline = time.monotonic() + seconds
    last: object = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up: {last}")


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child process in its own group (stopped with everything it started), output to a log file."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()


def app_env(
    database_url: str, app_port: int, emulator_port: int, api_key: str, api_secret: str
) -> dict[str, str]:
    """The app's environment: the emulator stands in for Shopify, App Bridge comes from its admin stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "TSUNAGU_"))}
    env.update(
        TSUNAGU_ENV="development",
        DATABASE_URL=database_url,
        SHOPIFY_API_KEY=api_key,
        SHOPIFY_API_SECRET=api_secret,
        TOKEN_ENCRYPTION_KEYS="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        APP_URL=f"http://127.0.0.1:{app_port}",
        SHOPIFY_ADMIN_ORIGIN=f"http://127.0.0.1:{emulator_port}",
        SHOPIFY_APP_BRIDGE_URL=f"http://127.0.0.1:{emulator_port}/app-bridge.js",
        PYTHONUNBUFFERED="1",
    )
    return env


def emulator_cmd(
    port: int, app_port: int, shop: str, customers: int, api_key: str, api_secret: str, demo_end: str
) -> list[str]:
    """`python -m emulator` with the demo retailer (the app's database gets the same data, same end)."""
    return [
        sys.executable, "-m", "emulator", "--port", str(port), "--shop", shop,
        "--api-key", api_key, "--api-secret", api_secret, "--app-url", f"http://127.0.0.1:{app_port}",
        "--seed-demo", "--customers", str(customers), "--demo-end", demo_end,
    ]  # fmt: skip


def app_cmd(port: int) -> list[str]:
    """The app under gunicorn, as in production (threads: App Bridge fires page loads and fetches at once)."""
    return [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "4", "--bind", f"127.0.0.1:{port}",
        "--timeout", "120", "app:create_app()",
    ]  # fmt: skip
