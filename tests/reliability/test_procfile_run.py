"""The app as deployed from its Procfile (release, web, worker, syncer) keeps one shop's metafields in sync
while every Admin API call of another shop fails, so that shop's install tasks never complete.

The processes are started from the Procfile's own command lines, pointed at the emulator through
SHOPIFY_ADMIN_ORIGIN. The emulator answers every call for the failing shop with a 503 or with a 200 that lacks
the objects asked for (its fault injector, set through `POST /_emulator/faults`), in real time. Midway the
syncer is killed with SIGKILL and replaced, and the next sales still reach Shopify.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import WSGIRequestHandler, make_server

from app.models import Purchase, Shop
from app.sync.syncer import LEASE_TTL
from emulator.server import create_emulator
from emulator.state import EmulatorState
from emulator.webhook_sender import WebhookSender
from scripts.pgtemp import throwaway_database
from tests.conftest import TEST_ENV
from tests.reliability.conftest import size
from tests.reliability.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = "procfile-ok.myshopify.com"
FAILING = "procfile-down.myshopify.com"
WATCHED = "purchase_count"


def procfile() -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):  # one line per Admin API call otherwise
        pass


@contextlib.contextmanager
def emulator_server(state: EmulatorState) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_emulator(state), threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def deployed(
    commands: dict[str, str], env: dict[str, str], logs: Path
) -> Iterator[dict[str, subprocess.Popen]]:
    """Each process type run by its Procfile command line; SIGTERM (then SIGKILL) when the block ends."""
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            procs[name] = start(name, command, env, logs)
        yield procs
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start(name: str, command: str, env: dict[str, str], logs: Path) -> subprocess.Popen:
    """One process type, run by its Procfile command line in a session of its own."""
    log = (logs / f"{name}.log").open("ab")
    return subprocess.Popen(
        ["bash", "-c", f"exec {command.strip()}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(condition, timeout: float, what: str, procs: dict[str, subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
        if dead or time.monotonic() > deadline:
            tails = {name: (logs / f"{name}.log").read_text()[-2000:] for name in procs}
            pytest.fail(
                f"{what}: not reached (exited: {dead})\n"
                + "\n".join(f"--- {n}\n{t}" for n, t in tails.items())
            )
        time.sleep(0.25)


def install(database_url: str, state: EmulatorState, domain: str) -> None:
    """The app's side of an install: the shop row and the emulator's offline token."""
    from app import create_app
    from app.config import load_settings
    from app.extensions import db
    from app.shopify.tokens import TokenGrant
    from app.shops.installs import complete_install

    grant = state.tokens.issue_offline(domain, set(state.config.scopes), expiring=False)
    application = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=database_url)))
    with application.app_context():
        complete_install(db.session, domain, TokenGrant.from_response(grant))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def order_for(customer: dict, number: int, amount: str) -> dict:
    """A minimal REST-shaped online order for one customer (Shopify's orders/create body, trimmed)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "id": 7_100_000_000 + number,
        "admin_graphql_api_id": f"gid://shopify/Order/{7_100_000_000 + number}",
        "name": f"#{number}",
        "created_at": now,
        "updated_at": now,
        "processed_at": now,
        "currency": "JPY",
        "financial_status": "paid",
        "source_name": "web",
        "current_subtotal_price": amount,
        "subtotal_price": amount,
        "total_price": amount,
        "customer": {
            "id": customer["id"],
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer['id']}",
        },
        "line_items": [],
        "refunds": [],
    }


@pytest.mark.slow
def test_a_shop_whose_calls_all_fail_does_not_stop_another_shops_sync(tmp_path):
    state = EmulatorState(TEST_ENV["SHOPIFY_API_KEY"], TEST_ENV["SHOPIFY_API_SECRET"])
    customers = {}
    for domain in (HEALTHY, FAILING):
        shop = state.install_shop(domain)
        customers[domain] = [
            shop.add_customer(first_name="Ichiro", last_name=f"Test{i}") for i in range(size(5, 50))
        ]
    with throwaway_database() as database_url, emulator_server(state) as origin:
        commands = procfile()
        port = free_port()
        env = dict(os.environ, **TEST_ENV)
        env.update(
            DATABASE_URL=database_url,
            SHOPIFY_ADMIN_ORIGIN=origin,
            FLASK_APP="app:create_app",
            PORT=str(port),
            WEB_CONCURRENCY="1",
            PYTHONUNBUFFERED="1",
            # As a buildpack or the container does: the environment's commands (flask, gunicorn) on PATH.
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        subprocess.run(
            ["bash", "-c", commands["release"].strip()], cwd=ROOT, env=env, check=True, timeout=120
        )
        for domain in (HEALTHY, FAILING):
            install(database_url, state, domain)
        # Half of the failing shop's calls get an answer without the objects asked for, the rest a 503.
        for rule in (
            {"kind": "unexpected", "shop": FAILING, "path": "/admin/", "ratio": 0.5},
            {"kind": "server_error", "shop": FAILING, "path": "/admin/", "status": 503},
        ):
            assert httpx.post(f"{origin}/_emulator/faults", json=rule, timeout=5).status_code == 201
        with deployed({k: commands[k] for k in ("web", "worker", "syncer")}, env, tmp_path) as procs:
            base = f"http://127.0.0.1:{port}"

            def web_up() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                return False

            wait_for(web_up, 90, "web answers /healthz", procs, tmp_path)
            sender = WebhookSender(TEST_ENV["SHOPIFY_API_SECRET"], f"{base}/webhooks", max_retries=0)
            number = 1000
            healthy = state.shops[HEALTHY]
            for domain in (HEALTHY, FAILING):
                for customer in customers[domain]:
                    number += 1
                    order = order_for(customer, number, "5000.00")
                    with state.lock:
                        state.shops[domain].add_order(order)
                    assert sender.send(domain, "orders/create", order).status == 200

            def healthy_synced(count: str = "1") -> bool:
                with state.lock:
                    values = [
                        healthy.metafield(f"gid://shopify/Customer/{c['id']}", healthy.app_namespace, WATCHED)
                        for c in customers[HEALTHY]
                    ]
                return all(v is not None and v["value"] == count for v in values)

            wait_for(healthy_synced, 120, "the healthy shop's purchase_count metafields", procs, tmp_path)
            # The syncer killed outright and replaced, as a process manager would. A syncer holds a shop's
            # lease only during its pass: killed between passes it leaves none, killed mid-pass it runs out.
            os.killpg(procs["syncer"].pid, signal.SIGKILL)
            procs["syncer"].wait()
            procs["syncer"] = start("syncer", commands["syncer"], env, tmp_path)
            for customer in customers[HEALTHY]:
                number += 1
                order = order_for(customer, number, "3000.00")
                with state.lock:
                    healthy.add_order(order)
                assert sender.send(HEALTHY, "orders/create", order).status == 200
            wait_for(
                lambda: healthy_synced("2"),
                LEASE_TTL.total_seconds() + 90,
                "the second sales, written by the replacement syncer",
                procs,
                tmp_path,
            )
            # The failing shop's calls kept failing the whole time, and still nothing died.
            time.sleep(3)
            assert all(p.poll() is None for p in procs.values()), {n: p.poll() for n, p in procs.items()}
            failing = state.shops[FAILING]
            with state.lock:
                assert not any(
                    failing.metafield(f"gid://shopify/Customer/{c['id']}", failing.app_namespace, WATCHED)
                    for c in customers[FAILING]
                )
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                # Its orders were still credited: the worker does not need Shopify for that.
                down_id = conn.scalar(select(Shop.id).where(Shop.domain == FAILING))
                credited = conn.scalar(
                    select(func.count()).select_from(Purchase).where(Purchase.shop_id == down_id)
                )
                assert credited == len(customers[FAILING])
                assert conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()
