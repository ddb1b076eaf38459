"""Burst: 5,000 order webhooks waiting in the inbox, drained by two `flask worker` processes on PostgreSQL.

A flash sale's deliveries arrive faster than they are credited; this measures how long the worker tier
needs to credit a backlog of 5,000 orders of 1,000 customers (five each: every order replays a member that
already has history). The deliveries are taken in through the real webhook edge (signed, in-process) before
the workers start, so the drain is the workers' time alone: first row claimed to last row processed.
Baseline in the same run: the time the edge took to take in the same 5,000 deliveries.

Goal: drained within 60 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import Figure
from bench.database import app_env, bench_database
from bench.freshness import processes
from bench.webhook_ack import INSERT_SHOP, SECRET, SHOP, signed_requests

ORDERS_FULL, ORDERS_QUICK = 5000, 500
CUSTOMERS_PER_ORDERS = 5  # orders per customer
WORKERS = 2
GOAL_SECONDS = 60.0


def _deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """`count` signed orders/create deliveries spread over count / 5 customers."""
    out = []
    for i, request in enumerate(signed_requests(count)):
        order = json.loads(base64.b64decode(request["body_b64"]))
        customers = max(1, count // CUSTOMERS_PER_ORDERS)
        order["customer"] = dict(order.get("customer") or {}, id=20_000_000 + i % customers)
        order["test"] = False  # Shopify's sample is a test order, and test orders earn nothing
        body = json.dumps(order).encode()
        headers = dict(request["headers"])
        headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(
            hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        ).decode()
        out.append((body, headers))
    return out


def _take_in(db_url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> float:
    """Record every delivery through the webhook edge; seconds taken (the baseline)."""
    from app import create_app
    from app.config import load_settings
    from app.extensions import db

    app = create_app(load_settings(app_env(db_url)))
    with app.app_context():
        db.session.execute(INSERT_SHOP, {"d": SHOP})
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    started = time.perf_counter()
    for body, headers in deliveries:
        response = client.post("/webhooks", data=body, headers=headers)
        assert response.status_code == 200, response.status_code
    elapsed = time.perf_counter() - started
    with app.app_context():
        db.engine.dispose()
    return elapsed


def _drained(engine, total: int) -> tuple[int, float | None]:
    """(rows processed, seconds from the first claim to the last processing) so far."""
    with engine.connect() as conn:
        done, span = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE processed_at IS NOT NULL),"
                " EXTRACT(EPOCH FROM max(processed_at) - min(processed_at))"
                " FROM inbox_events WHERE topic = 'orders/create'"
            )
        ).one()
    return int(done), (float(span) if span is not None and done >= total else None)


def run(full: bool = False) -> list[Figure]:
    count = ORDERS_FULL if full else ORDERS_QUICK
    deliveries = _deliveries(count)
    with bench_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        intake = _take_in(db_url, deliveries)
        print(f"  burst: {count} deliveries taken in by the edge in {intake:.1f} s", flush=True)
        env = app_env(db_url)
        commands = [[sys.executable, "-m", "flask", "worker", "--no-reconcile"] for _ in range(WORKERS)]
        engine = create_engine(db_url)
        started = time.perf_counter()
        span = None
        with processes(commands, env, Path(tmp)):
            while time.perf_counter() - started < 30 * GOAL_SECONDS:
                _done, span = _drained(engine, count)
                if span is not None:
                    break
                time.sleep(0.5)
        wall = time.perf_counter() - started
        with engine.connect() as conn:
            credited = conn.execute(text("SELECT count(*) FROM purchases")).scalar_one()
            dead = conn.execute(text("SELECT count(*) FROM inbox_events WHERE status = 'dead'")).scalar_one()
        engine.dispose()
    drain = span if span is not None else wall
    print(f"  burst: drained in {drain:.1f} s ({wall:.1f} s wall), {credited} credited", flush=True)
    return [
        Figure(
            "Burst",
            f"{count} order webhooks drained by {WORKERS} workers (PostgreSQL)",
            drain,
            "s",
            intake,
            "the edge taking in the same deliveries",
            f"<= {GOAL_SECONDS:.0f} s" if full else "",
            (drain <= GOAL_SECONDS and credited == count and dead == 0) if full else None,
            note=f"{credited} credited, {dead} dead rows, {count // CUSTOMERS_PER_ORDERS} customers",
        )
    ]


if __name__ == "__main__":
    for figure in run(full="--full" in sys.argv):
        print(figure)
