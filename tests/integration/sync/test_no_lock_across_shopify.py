"""No transaction stays open across a Shopify call: a webhook lands while the syncer waits for Shopify.

On SQLite a transaction holds the database's only write lock; before, the syncer wrote its cost reading
into its open transaction and kept that lock through the following Shopify calls, so webhooks waited
seconds for their INSERT. Here a transport holds one metafieldsSet call open while the test records a
webhook through the app's engine, on whichever database the suite runs.
"""

from __future__ import annotations

import threading
import time

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.jobs import inbox
from app.models import InboxEvent, Shop
from app.shopify import client as client_module
from app.shopify.client import AdminClient
from app.sync.syncer import sync_shop
from tests.integration.sync.conftest import DOMAIN

MEMBERS = 20  # enough metafields for several metafieldsSet calls in one round
PAUSE_LIMIT = 15.0


class PausingTransport(httpx.BaseTransport):
    """Passes requests to the emulator; the `pause_at`-th metafieldsSet waits until released."""

    def __init__(self, inner: httpx.BaseTransport, pause_at: int) -> None:
        self.inner, self.pause_at, self.seen = inner, pause_at, 0
        self.paused, self.release = threading.Event(), threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if b"metafieldsSet" in request.read():
            self.seen += 1
            if self.seen == self.pause_at:
                self.paused.set()
                self.release.wait(PAUSE_LIMIT)
        return self.inner.handle_request(request)


def test_a_webhook_is_recorded_at_once_while_the_syncer_waits_for_shopify(world, app):
    for _ in range(MEMBERS):
        world.buy(world.customer(), "5000")
    shop_id = world.shop.id
    world.session.commit()
    transport = PausingTransport(app.config["SHOPIFY_TRANSPORT"], pause_at=2)
    app.config["SHOPIFY_TRANSPORT"] = transport
    client_module._cost_written.clear()  # the first reading of this test is written
    failures: list[str] = []

    def syncer() -> None:
        with app.app_context():
            session = db.session
            try:
                shop = session.get(Shop, shop_id)
                sync_shop(session, shop, AdminClient(shop, session=session), world.pacer())
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}"[:300])
            finally:
                db.session.remove()

    thread = threading.Thread(target=syncer)
    thread.start()
    try:
        assert transport.paused.wait(30), (
            "the syncer never reached its second metafieldsSet",
            transport.seen,
            failures,
        )
        started = time.monotonic()
        with Session(db.engine) as webhook:
            delivery = inbox.Delivery(DOMAIN, "orders/create", "during-sync", '{"id": 1}', shop_id=shop_id)
            assert inbox.record(webhook, delivery)
            webhook.commit()
        took = time.monotonic() - started
    finally:
        transport.release.set()
        thread.join(60)
    print(f"\nwebhook INSERT while the syncer waits for Shopify: {took * 1000:.0f} ms")
    assert failures == []
    assert took < 1.0, f"the webhook INSERT waited {took:.1f} s for the syncer"
    assert world.session.scalar(select(func.count()).select_from(InboxEvent)) == 1
