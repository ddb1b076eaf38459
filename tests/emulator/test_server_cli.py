"""`python -m emulator` starts a server with the demo shop loaded and prints the admin stand-in URL."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_the_seeded_demo_shop_and_prints_the_admin_url():
    port = free_port()
    command = [
        sys.executable, "-m", "emulator", "--port", str(port), "--api-key", "k",
        "--api-secret", "s", "--app-url", "http://127.0.0.1:8000", "--shop", "demo.myshopify.com",
        "--seed-demo", "--customers", "100",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Admin stand-in:") or process.poll() is not None:
                break
        admin_url = lines[-1].split(": ", 1)[1].strip()
        assert admin_url == f"http://127.0.0.1:{port}/store/demo/apps/tsunagu", lines
        assert any(line.startswith("demo data: 100 customers") for line in lines), lines

        for _ in range(50):
            try:
                page = httpx.get(admin_url)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert page.status_code == 200 and "http://127.0.0.1:8000/?" in page.text
        health = httpx.get(f"http://127.0.0.1:{port}/_emulator/health").json()
        assert health["ok"] and health["shops"]["demo.myshopify.com"] > 500
        shops = httpx.get(f"http://127.0.0.1:{port}/_emulator/shops").json()
        assert shops[0]["domain"] == "demo.myshopify.com"
        token = httpx.get(f"http://127.0.0.1:{port}/store/demo/id_token", params={"client_id": "k"})
        assert token.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
