"""`make demo`, store side: Smaregi register sales and LINE-linked members for the demo shop.

Runs in the demo script's own process once the app is installed: the Smaregi and LINE stand-ins
(emulator/smaregi.py, emulator/line.py) are wired into an app instance as its transports, and the sales go
through the app's own ingest code (fetched by id, identity by phone, points, history), as the worker would
apply a Smaregi webhook. Purchases are dated in the last 60 days up to now in the shop's time zone.
"""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from emulator.demo_data import DemoSpec, customer_at
from emulator.line import LineStandIn
from emulator.smaregi import SmaregiStandIn

CONTRACT = "demo_tsunagu"
SMAREGI_STORES = {"11": "原宿店 (スマレジ)", "12": "心斎橋店 (スマレジ)"}
STORE_CUSTOMERS = 40  # demo customers who also shop at the Smaregi stores (matched by phone)
LINE_LINKED = 25  # of them, linked to LINE
SEED = 20261206


def seed_store_side(env: dict[str, str], shop_domain: str, customers: int, wait_seconds: float = 120) -> str:
    """Connect Smaregi and LINE, ring register sales for some demo customers, link some to LINE."""
    from app import create_app
    from app.config import load_settings
    from app.extensions import db
    from app.integrations.line.links import connect_line, link_user
    from app.integrations.smaregi.client import SmaregiClient
    from app.integrations.smaregi.connection import connect
    from app.integrations.smaregi.ingest import ingest_customer, ingest_transaction
    from app.models import Member, Shop

    # Throwaway credentials: the stand-ins accept whatever they are given here, nothing leaves the process.
    client_secret, line_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    smaregi, line = SmaregiStandIn(), LineStandIn(line_token)
    smaregi.add_contract(CONTRACT, client_secret=client_secret)
    for store_id, name in SMAREGI_STORES.items():
        smaregi.add_store(CONTRACT, store_id, name)
    app = create_app(load_settings(env))
    app.config["SMAREGI_TRANSPORT"] = smaregi.transport()
    app.config["LINE_TRANSPORT"] = line.transport()
    spec = DemoSpec().scaled(customers / DemoSpec().customers)  # ids and phones as the emulator seeded them
    people = [c for c in (customer_at(spec, i) for i in range(min(spec.customers, 400))) if c["phone"]]
    people = people[:STORE_CUSTOMERS]
    with app.app_context():
        session = db.session
        shop = session.scalar(select(Shop).where(Shop.domain == shop_domain))
        if shop is None:
            return "store side skipped: the shop is not installed"
        # Wait for the install backfill to bring these customers in, so register members link to them.
        ids = [str(c["id"]) for c in people]
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            known = session.scalar(
                select(func.count()).where(Member.shop_id == shop.id, Member.shopify_customer_id.in_(ids))
            )
            session.rollback()
            if known >= len(ids):
                break
            time.sleep(5)
        connection = connect(
            session,
            shop,
            contract_id=CONTRACT,
            client_id="client-id",
            client_secret=client_secret,
            webhook_secret=secrets.token_urlsafe(24),
            environment="dev",
            rank_codes={"regular": "1", "silver": "2", "gold": "3", "platinum": "4"},
        )
        # Thank-yous off: the LINE stand-in lives in this process only, the demo's worker could not reach it.
        connect_line(
            session,
            shop,
            channel_secret=secrets.token_urlsafe(16),
            access_token=line_token,
            thank_you_enabled=False,
        )
        session.commit()
        rng = random.Random(SEED)
        now = datetime.now(UTC).replace(microsecond=0)
        zone = ZoneInfo(shop.timezone or "Asia/Tokyo")
        sales = 0
        with SmaregiClient(connection) as client:
            for number, person in enumerate(people):
                customer_id = smaregi.add_customer(
                    CONTRACT,
                    f"S{number + 1:05d}",
                    mobile=person["phone"],
                    last_name=person["last_name"],
                    first_name=person["first_name"],
                )
                ingest_customer(session, shop, client, customer_id)
                for _ in range(rng.randint(1, 3)):
                    # Open hours 10-20h local, some day in the last 60 days, never after now.
                    day = (now.astimezone(zone) - timedelta(days=rng.randrange(1, 60))).date()
                    local = datetime(day.year, day.month, day.day, rng.randrange(10, 20), rng.randrange(60))
                    at = min(local.replace(tzinfo=zone).astimezone(UTC), now)
                    store_id = rng.choice(list(SMAREGI_STORES))
                    amount = rng.randrange(20, 240) * 100
                    head = smaregi.ring_sale(CONTRACT, store_id, amount, at, customer_id)
                    ingest_transaction(session, shop, client, head)
                    sales += 1
                session.commit()
        for person in people[:LINE_LINKED]:
            link_user(session, shop, str(person["id"]), f"U{person['id']:032x}"[:33], language="ja")
        session.commit()
    return f"store side: {len(people)} Smaregi members, {sales} register sales, {LINE_LINKED} LINE links"
