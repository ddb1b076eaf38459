"""Everything that changes a balance, at once on the same members: staff adjustments made the way the staff
page makes them (member loaded first, adjusted after), order and refund webhooks, reward-code redemptions,
and the daily expiry job. Threads with sessions of their own, real commits, on PostgreSQL and on SQLite.
Afterwards each member's cached balance equals its ledger.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.domain.events import CustomerRef, PurchaseEvent, RefundEvent
from app.extensions import db
from app.models.member import Member
from app.models.shop import Shop
from app.points import redemption, spending
from app.points.purchases import apply_purchase, apply_refund
from app.points.upkeep import refresh_member
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer
from tests.integration.sync.conftest import DOMAIN
from tests.reliability.books import books_balance
from tests.reliability.conftest import size

MEMBERS = 3
ROUNDS = size(12, 60)  # operations per thread


def test_staff_webhooks_redemptions_and_expiry_at_once_keep_the_books(world, app):
    customers = [world.customer() for _ in range(MEMBERS)]
    for cid in customers:
        world.buy(cid, "50000")
    world.clock.sleep(timedelta(days=15).total_seconds())  # past the return window: points available
    session = world.session
    ids = [
        m.id
        for m in session.scalars(select(Member).where(Member.shop_id == world.shop.id).order_by(Member.id))
    ]
    for member_id in ids:
        refresh_member(session, world.shop, member_id, world.clock.utc())
    shop_id, now = world.shop.id, world.clock.utc()
    session.commit()  # and nothing read after it: on SQLite an open transaction holds the write lock
    errors: list[str] = []
    done: dict[str, int] = {}
    start = threading.Barrier(5)

    def worker(name: str, step) -> None:
        rng = random.Random(name)
        with app.app_context():
            s = db.session
            try:
                shop = s.get(Shop, shop_id)
                s.commit()
                start.wait(timeout=60)
                for i in range(ROUNDS):
                    step(s, shop, rng, i)
                    s.commit()
                    done[name] = done.get(name, 0) + 1
            except Exception as exc:  # any failure of a step fails the test
                s.rollback()
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
            finally:
                db.session.remove()

    def staff(s, shop, rng, i) -> None:
        member_id = rng.choice(ids)
        shown = s.get(Member, member_id)  # the page's load, without the lock
        points = rng.choice((25, 40, -15, -30))
        if points < 0 and -points > shown.points_available:
            points = -points
        try:
            spending.adjust(s, shown, points, reason="race", source_id=f"race-{i}", now=now)
        except spending.InsufficientPoints:
            s.rollback()

    def webhooks(s, shop, rng, i) -> None:
        cid = rng.choice(customers)
        order = f"race-order-{i}"
        event = PurchaseEvent(
            source="shopify", source_id=order, shop_domain=DOMAIN,
            customer_ref=CustomerRef(shopify_customer_id=str(cid)), currency="JPY",
            gross_amount=Decimal("3000"), processed_at=now - timedelta(days=20), source_updated_at=now,
            items_count=1, source_name="web",
        )  # fmt: skip
        apply_purchase(s, shop, event, now=now)
        if i % 3 == 0:
            s.commit()
            refund = RefundEvent(
                source="shopify", source_id=f"race-refund-{i}", order_source_id=order,
                amount=Decimal("1000"), processed_at=now, shop_domain=DOMAIN,
            )  # fmt: skip
            apply_refund(s, shop, refund, now=now)

    def redemptions(s, shop, rng, i) -> None:
        pacer = CostPacer.for_plan("standard", clock=world.clock, sleep=world.clock.sleep)
        for _ in range(200):
            try:
                redemption.redeem(
                    s, shop, AdminClient(shop, session=s), pacer, rng.choice(ids), 10,
                    request_key=f"race-{i}", now=now,
                )  # fmt: skip
                return
            except redemption.RedemptionConflict:
                s.rollback()
                time.sleep(0.005)
            except redemption.InsufficientPoints:
                s.rollback()
                return

    def expiry(s, shop, rng, i) -> None:
        # A year on for one member at a time: their lots expire while everything else posts to them.
        refresh_member(s, shop, rng.choice(ids), now + timedelta(days=400))

    def second_staff(s, shop, rng, i) -> None:
        staff(s, shop, rng, i + 10_000)

    steps = {"staff": staff, "staff2": second_staff, "webhooks": webhooks, "redeem": redemptions}
    steps["expiry"] = expiry
    threads = [threading.Thread(target=worker, args=(name, step)) for name, step in steps.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert errors == []
    assert done == {name: ROUNDS for name in steps}
    assert books_balance(session, shop_id) == MEMBERS
