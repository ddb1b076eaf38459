"""`make demo`: app, worker and Shopify emulator with a demo shop on SQLite; prints the URL to open.

Everything runs through the production code paths: the emulator stands in for Shopify
(SHOPIFY_ADMIN_ORIGIN), the admin stand-in frames the app with fresh App Bridge id_tokens, and the
app installs itself by token exchange on the first page load, as inside a real Shopify admin.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scripts.demo_store import seed_store_side
from scripts.supervise import Supervisor

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
PY = sys.executable


def demo_env(app_port: int, emulator_port: int, database: Path) -> dict[str, str]:
    """The environment shared by the app, the worker and the emulator."""
    from app.config import local_secret

    env = dict(os.environ)
    env.update(
        TSUNAGU_ENV="development",
        FLASK_APP="app:create_app",
        DATABASE_URL=f"sqlite:///{database}",
        SHOPIFY_API_KEY="tsunagu-demo-api-key",
        SHOPIFY_API_SECRET=local_secret("DEMO_SHOPIFY_API_SECRET"),
        APP_URL=f"http://127.0.0.1:{app_port}",
        SHOPIFY_ADMIN_ORIGIN=f"http://127.0.0.1:{emulator_port}",
        SHOPIFY_APP_BRIDGE_URL=f"http://127.0.0.1:{emulator_port}/app-bridge.js",
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_for(url: str, seconds: float = 60.0) -> httpx.Response:
    """Poll a URL until it answers 200 (or give up with a clear message)."""
    deadline = time.monotonic() + seconds
    last: Exception | str = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return response
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.25)
    raise SystemExit(f"demo: {url} did not come up: {last}")


def install(app_url: str, emulator_url: str, handle: str, api_key: str) -> None:
    """Open the app once as the admin would, so it installs (token exchange) and starts its backfill."""
    token = httpx.get(f"{emulator_url}/store/{handle}/id_token", params={"client_id": api_key}, timeout=10)
    token.raise_for_status()
    shop = f"{handle}.myshopify.com"
    page = httpx.get(
        f"{app_url}/",
        params={"embedded": "1", "shop": shop, "id_token": token.json()["id_token"], "locale": "ja"},
        timeout=60,
    )
    if page.status_code != 200:
        raise SystemExit(f"demo: the first page load did not install the app (HTTP {page.status_code})")
    print(f"demo: {shop} installed; the backfill loads its history in the background", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app-port", type=int, default=int(os.environ.get("DEMO_APP_PORT", 8000)))
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("DEMO_EMULATOR_PORT", 9292)))
    parser.add_argument("--shop", default="tsunagu-demo.myshopify.com")
    parser.add_argument("--customers", type=int, default=2000, help="size of the demo retailer")
    parser.add_argument("--database", type=Path, default=INSTANCE / "demo.sqlite3")
    parser.add_argument("--fresh", action="store_true", help="start from an empty database")
    parser.add_argument(
        "--check", action="store_true", help="start, check that everything answers, stop (CI smoke)"
    )
    args = parser.parse_args(argv)

    INSTANCE.mkdir(exist_ok=True)
    if args.fresh and args.database.exists():
        args.database.unlink()
    env = demo_env(args.app_port, args.emulator_port, args.database)
    app_url, emulator_url = env["APP_URL"], env["SHOPIFY_ADMIN_ORIGIN"]

    subprocess.run([PY, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    supervisor = Supervisor(ROOT, env)  # a child that stops is restarted with backoff (scripts/supervise.py)
    start, stop = supervisor.start, supervisor.stop

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        start(
            "Shopify emulator",
            [
                PY,
                "-m",
                "emulator",
                "--port",
                str(args.emulator_port),
                "--api-key",
                env["SHOPIFY_API_KEY"],
                "--api-secret",
                env["SHOPIFY_API_SECRET"],
                "--app-url",
                app_url,
                "--shop",
                args.shop,
                "--seed-demo",
                "--customers",
                str(args.customers),
                "--webhook-url",
                f"{app_url}/webhooks",
            ],
        )
        start(
            "web (gunicorn)",
            [
                PY,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{args.app_port}",
                "--access-logfile",
                "-",
                "app:create_app()",
            ],
        )
        start("worker", [PY, "-m", "flask", "worker"])
        start("syncer", [PY, "-m", "flask", "sync"])
        wait_for(f"{app_url}/healthz")
        wait_for(f"{emulator_url}/_emulator/health", seconds=300)
        handle = args.shop.removesuffix(".myshopify.com")
        admin_url = f"{emulator_url}/store/{handle}/apps/tsunagu"
        wait_for(admin_url)
        install(app_url, emulator_url, handle, env["SHOPIFY_API_KEY"])
        # Smaregi register sales and LINE links, so every part of the product has something to show.
        print(f"demo: {seed_store_side(env, args.shop, args.customers)}", flush=True)
        print("\n" + "=" * 72)
        print(f"  Tsunagu demo is running. Open the Shopify admin stand-in:\n\n    {admin_url}\n")
        print(f"  (English: {admin_url}?locale=en)   app: {app_url}   emulator: {emulator_url}")
        print("  Ctrl-C stops everything.")
        print("=" * 72 + "\n", flush=True)
        if args.check:
            return 0
        supervisor.run()  # until Ctrl-C or SIGTERM
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
