"""Overload at the webhook edge: a delivery that cannot be stored promptly gets 503 at once, and is stored
when Shopify retries it. Real commits (the edge writes on its own pool, outside any test transaction)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from app.models import InboxEvent, Shop
from tests.integration.webhooks.support import headers, order_body


@pytest.fixture(autouse=True)
def own_edge(app):
    """A fresh edge per test, dropped after it: its unreported shed count must not leak into later tests
    (the next delivery would write this process's heartbeat row)."""
    app.extensions.pop("tsunagu_webhook_edge", None)
    yield
    edge = app.extensions.pop("tsunagu_webhook_edge", None)
    if edge is not None:
        edge.writer.dispose()


def _rows(db, delivery_id: str) -> int:
    count = db.session.scalar(
        select(func.count()).select_from(InboxEvent).where(InboxEvent.delivery_id == delivery_id)
    )
    db.session.rollback()  # SQLite: a transaction holds the write lock the edge's next insert needs
    return count


def _setup(app, db, domain: str):
    db.session.add(Shop(domain=domain, name="Shed", currency="JPY", timezone="Asia/Tokyo"))
    db.session.commit()
    client = app.test_client()
    body = json.dumps(order_body(1, "100")).encode()
    assert (
        client.post("/webhooks", data=body, headers=headers("orders/create", body, shop=domain)).status_code
        == 200
    )
    return client, app.extensions["tsunagu_webhook_edge"]


def test_a_delivery_queued_past_the_budget_is_shed_fast_and_stored_on_retry(app, committed):
    client, edge = _setup(app, committed, "shed-queue.myshopify.com")
    body = json.dumps(order_body(2, "100")).encode()
    sent = headers("orders/create", body, shop="shed-queue.myshopify.com", webhook_id="late-1")
    stale = dict(sent, **{"X-Request-Start": f"t={int((time.time() - 3) * 1e6)}"})
    before = edge.shed_count
    started = time.perf_counter()
    response = client.post("/webhooks", data=body, headers=stale)
    assert time.perf_counter() - started < 0.5
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert edge.shed_count == before + 1 and _rows(committed, "late-1") == 0
    fresh = dict(sent, **{"X-Request-Start": str(int(time.time() * 1000))})  # Heroku's form: milliseconds
    assert client.post("/webhooks", data=body, headers=fresh).status_code == 200
    assert _rows(committed, "late-1") == 1


def test_no_free_connection_within_the_wait_is_503_and_the_retry_is_stored(app, committed):
    client, edge = _setup(app, committed, "shed-pool.myshopify.com")
    body = json.dumps(order_body(3, "100")).encode()
    sent = headers("orders/create", body, shop="shed-pool.myshopify.com", webhook_id="busy-1")
    held = [edge.writer.engine.connect() for _ in range(app.config["SETTINGS"].webhook_max_inflight)]
    try:
        started = time.perf_counter()
        response = client.post("/webhooks", data=body, headers=sent)
        elapsed = time.perf_counter() - started
    finally:
        for conn in held:
            conn.close()
    assert response.status_code == 503 and response.get_json() == {"error": "shed_db_wait"}
    assert elapsed < app.config["SETTINGS"].webhook_db_wait_seconds + 0.5
    assert _rows(committed, "busy-1") == 0
    assert client.post("/webhooks", data=body, headers=sent).status_code == 200
    assert _rows(committed, "busy-1") == 1
