"""The sync tests' world: an emulated Shopify shop on a movable clock, the app's shop row with a token."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from flask import Flask

from app.domain.events import CustomerRef, PurchaseEvent, RefundEvent
from app.models.shop import Shop
from app.points.purchases import apply_purchase, apply_refund
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer
from app.shopify.tokens import TokenGrant
from app.shops.installs import complete_install
from emulator.clock import VirtualClock
from emulator.graphql_view import create_graphql_blueprint
from emulator.inspect_api import create_inspect_blueprint
from emulator.state import EmulatorState, ShopState
from emulator.transport import emulator_transport
from tests.conftest import TEST_ENV

DOMAIN = "sync-shop.myshopify.com"
# The sync tests move time by hand (emulator.clock); `Clock` is its name here.
Clock = VirtualClock


@dataclass
class SyncWorld:
    """Emulator + app shop + helpers to make purchases happen in both."""

    state: EmulatorState
    remote: ShopState
    shop: Shop
    clock: Clock
    session: Any
    ids: Any = field(default_factory=lambda: count(1))

    def client(self) -> AdminClient:
        return AdminClient(self.shop, session=self.session)

    def pacer(self, **kwargs: Any) -> CostPacer:
        return CostPacer.for_plan(self.remote.plan, clock=self.clock, sleep=self.clock.sleep, **kwargs)

    def customer(self, **fields: Any) -> int:
        """A customer in Shopify (the app learns about it through its orders)."""
        return int(self.remote.add_customer(**fields)["id"])

    def buy(
        self,
        customer_id: int | None,
        amount: str,
        *,
        pos: bool = False,
        codes: tuple[str, ...] = (),
        order_id: str | None = None,
        commit: bool = True,
    ) -> str:
        """An order applied through the member services, as the webhook worker would."""
        oid = order_id or str(next(self.ids) + 5_000_000)
        now = self.clock.utc()
        event = PurchaseEvent(
            source="shopify",
            source_id=oid,
            shop_domain=DOMAIN,
            customer_ref=CustomerRef(shopify_customer_id=str(customer_id)) if customer_id else None,
            currency="JPY",
            gross_amount=Decimal(amount),
            processed_at=now,
            source_updated_at=now,
            items_count=1,
            source_name="pos" if pos else "web",
            location_id="7001" if pos else None,
            location_name="Shibuya" if pos else None,
            discount_codes=codes,
        )
        apply_purchase(self.session, self.shop, event, now=now)
        if commit:
            self.session.commit()
        return oid

    def refund(self, order_id: str, amount: str) -> None:
        now = self.clock.utc()
        event = RefundEvent(
            source="shopify",
            source_id=str(next(self.ids) + 9_000_000),
            order_source_id=order_id,
            amount=Decimal(amount),
            processed_at=now,
            shop_domain=DOMAIN,
        )
        apply_refund(self.session, self.shop, event, now=now)
        self.session.commit()


def build_emulator(clock: Clock, plan: str = "standard") -> tuple[EmulatorState, ShopState, Flask]:
    """An emulator with one installed shop, its GraphQL endpoint and its bulk-result downloads."""
    state = EmulatorState(TEST_ENV["SHOPIFY_API_KEY"], TEST_ENV["SHOPIFY_API_SECRET"], clock=clock)
    remote = state.install_shop(DOMAIN, plan=plan)
    wsgi = Flask("shopify-emulator")
    wsgi.register_blueprint(create_graphql_blueprint(state))
    wsgi.register_blueprint(create_inspect_blueprint(state))
    return state, remote, wsgi


def install(session, state: EmulatorState, domain: str = DOMAIN) -> Shop:
    """The app's side of an install: shop row and a token the emulator accepts."""
    body = state.tokens.issue_offline(domain, set(state.config.scopes), expiring=False)
    shop = complete_install(session, domain, TokenGrant.from_response(body))
    session.commit()
    return shop


@pytest.fixture
def world(app, committed):
    """Real commits (the syncer commits per batch; tables are emptied afterwards by `committed`)."""
    session = committed.session
    clock = Clock()
    state, remote, wsgi = build_emulator(clock)
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport(wsgi)
    try:
        shop = install(session, state)
        yield SyncWorld(state=state, remote=remote, shop=shop, clock=clock, session=session)
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


def assert_shopify_matches_db(world) -> int:
    """Every active member's metafields and app tags in the emulator equal the DB projection (count)."""
    from sqlalchemy import select

    from app.members.projection import project
    from app.models.member import Member

    members = world.session.scalars(
        select(Member).where(Member.shop_id == world.shop.id, Member.status == "active")
    ).all()
    projections = project(world.session, world.shop, members, world.clock.utc())
    mismatches = []
    for p in projections.values():
        cid = int(p.customer_gid.rsplit("/", 1)[-1])
        want = {k: v.value for k, v in p.metafields.items() if v.value is not None}
        have = {k: v["value"] for k, v in world.remote.customer_metafields(cid).items()}
        app_tags = sorted(t for t in world.remote.customer_tags(cid) if t.startswith("tsunagu:"))
        if have != want or app_tags != sorted(p.tags):
            mismatches.append(
                (
                    cid,
                    {
                        k: (have.get(k), want.get(k))
                        for k in set(have) | set(want)
                        if have.get(k) != want.get(k)
                    },
                    app_tags,
                    sorted(p.tags),
                )
            )
    assert mismatches == []
    return len(projections)


def metafields_set_sizes(world) -> list[int]:
    return [sizes["metafields"] for name, sizes in world.remote.mutation_log if name == "metafieldsSet"]


def issued_vs_earned(session) -> tuple[int, int]:
    """(points the ledger issued, points the purchases earned): equal unless something credited twice."""
    from sqlalchemy import func, select

    from app.models.ledger import LedgerPosting
    from app.models.purchase import Purchase

    issued = -(
        session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "issued")) or 0
    )
    earned = session.scalar(select(func.sum(Purchase.points))) or 0
    return issued, earned


def with_customer(world) -> int:
    """Orders in the emulator that have a customer (walk-ins at the till and guest checkouts earn nothing)."""
    return sum(1 for order in world.remote.orders.values() if order.get("customer"))
