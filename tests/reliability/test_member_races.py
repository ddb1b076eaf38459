"""A new customer seen by two processes at once (the install backfill's customer row in `flask sync`, and a
live orders/create in a worker) becomes one member, and neither process fails.

Found by B2: `flask sync` died with UniqueViolation on uq_members_shop_id_shopify_customer_id while the
backfill and the webhook worker created the same members (bench/freshness.py now marks the backfill done).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent, CustomerRef, PurchaseEvent
from app.extensions import db
from app.models.member import Member
from app.models.shop import Shop
from app.points.purchases import apply_purchase
from tests.reliability.books import books_balance

pytestmark = pytest.mark.postgres  # SQLite serialises writers: the race cannot happen there

CUSTOMERS = 20
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_backfill_and_webhook_creating_the_same_member_at_once(app, committed):
    shop = Shop(domain="race-shop.myshopify.com", status="installed", currency="JPY", timezone="Asia/Tokyo")
    committed.session.add(shop)
    committed.session.commit()
    shop_id = shop.id
    errors: list[str] = []

    def as_backfill(cid: str, barrier: threading.Barrier) -> None:
        run(
            barrier,
            lambda s, sh: apply_customer(s, sh, CustomerEvent("create", cid, NOW, shop_domain=sh.domain)),
        )

    def as_webhook(cid: str, barrier: threading.Barrier) -> None:
        def purchase(session, sh):
            event = PurchaseEvent(
                source="shopify", source_id=f"o-{cid}", shop_domain=sh.domain,
                customer_ref=CustomerRef(shopify_customer_id=cid), currency="JPY",
                gross_amount=Decimal("5000"), processed_at=NOW, source_updated_at=NOW, items_count=1,
                source_name="web",
            )  # fmt: skip
            apply_purchase(session, sh, event, now=NOW)

        run(barrier, purchase)

    def run(barrier: threading.Barrier, action) -> None:
        with app.app_context():
            session = db.session
            try:
                sh = session.get(Shop, shop_id)
                session.commit()
                barrier.wait(timeout=60)
                action(session, sh)
                session.commit()
            except Exception as exc:
                session.rollback()
                errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            finally:
                db.session.remove()

    for i in range(CUSTOMERS):
        cid = str(7_700_000 + i)
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=f, args=(cid, barrier)) for f in (as_backfill, as_webhook)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    members = committed.session.scalar(select(func.count()).where(Member.shop_id == shop_id))
    assert errors == []
    assert members == CUSTOMERS
    assert books_balance(committed.session, shop_id) == CUSTOMERS
