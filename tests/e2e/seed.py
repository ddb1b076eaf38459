"""Load the emulator's demo retailer into the app's database through the app's own ingest path.

The same deterministic generator seeds the emulator (`python -m emulator --seed-demo`), so the app and
"Shopify" agree on customers and orders. Each customer and order goes through the webhook normaliser and the
member services, as a webhook would, so the dashboard shows what production would compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from app.customers.events import apply_customer
from app.extensions import db
from app.models import Shop
from app.models.types import utcnow
from app.points.purchases import apply_purchase, apply_refund
from app.shopify.payloads.rest import customer_from_rest, order_from_rest, refund_from_rest
from emulator.demo_data import DemoSpec, iter_customers, iter_events
from emulator.demo_orders import JST

COMMIT_EVERY = 200
WEEKEND_CAMPAIGN = "週末ポイント2倍（店舗・オンライン）"


def demo_spec(customers: int) -> DemoSpec:
    """The spec the emulator's --seed-demo uses for `customers` customers (orders end now, in Tokyo)."""
    spec = DemoSpec.ending_now(JST)
    return spec.scaled(customers / spec.customers)


@dataclass
class Seeded:
    """What went in."""

    shop_id: int
    customers: int
    orders: int
    refunds: int


def seed(app: Flask, domain: str, spec: DemoSpec) -> Seeded:
    """Create the shop row (the first page load's token exchange completes the install) and its history."""
    with app.app_context():
        db.create_all()
        shop = db.session.scalar(select(Shop).where(Shop.domain == domain))
        if shop is None:
            shop = Shop(domain=domain, name="つなぐデモストア", status="installed", granted_scopes="")
            db.session.add(shop)
            db.session.commit()
        customers = orders = refunds = 0
        for body in iter_customers(spec):
            apply_customer(db.session, shop, customer_from_rest(body, "create", domain))
            customers += 1
            if customers % COMMIT_EVERY == 0:
                db.session.commit()
        db.session.commit()
        for n, (_, topic, body) in enumerate(iter_events(spec), start=1):
            if topic == "orders/create":
                apply_purchase(db.session, shop, order_from_rest(body, domain))
                orders += 1
            else:
                apply_refund(db.session, shop, refund_from_rest(body, domain))
                refunds += 1
            if n % COMMIT_EVERY == 0:
                db.session.commit()
        db.session.commit()
        seed_campaigns(shop)
        return Seeded(shop.id, customers, orders, refunds)


def seed_campaigns(shop: Shop) -> None:
    """A weekend 2x multiplier started a month ago (10% holdout), and a birthday bonus still in draft."""
    from app.campaigns import store
    from app.points.engine import rebuild_members

    now = utcnow()
    began = now - timedelta(days=30)
    weekend = store.Settings(
        name=WEEKEND_CAMPAIGN, kind="multiplier", starts_at=began, multiplier=Decimal(2),
        weekdays=(5, 6), holdout_pct=10, budget=200_000,
    )  # fmt: skip
    running = store.create(db.session, shop, weekend, began)
    store.start(db.session, shop, running, began)
    # What the worker's daily round does for a running campaign: replay the members it concerns by now.
    rebuild_members(db.session, shop, store.members_to_revisit(db.session, shop, running, now), now)
    birthday = store.Settings(
        name="誕生月ボーナス", kind="birthday_month", starts_at=now, bonus_points=500, bonus_expiry_days=60
    )
    store.create(db.session, shop, birthday, now)
    db.session.commit()
