"""An emulated shop on a virtual clock with the app on a benchmark database, in one process (B3)."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from typing import Any

from app.domain.events import CustomerRef, PurchaseEvent, RefundEvent
from app.models.shop import Shop
from app.points.purchases import apply_purchase, apply_refund
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer
from app.shopify.tokens import TokenGrant
from app.shops.installs import complete_install
from emulator.clock import VirtualClock
from emulator.shop_state import ShopState
from emulator.state import EmulatorState


class MeteredClient:
    """An AdminClient that adds up the points Shopify charged, per GraphQL document."""

    def __init__(self, inner: AdminClient) -> None:
        self.inner = inner
        self.points: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.last_cost: dict[str, Any] | None = None

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.inner.last_cost = None
        try:
            return self.inner.execute(document, variables)
        finally:
            self.last_cost = self.inner.last_cost
            name = document_name(document)
            self.calls[name] += 1
            # THROTTLED answers carry no actual cost (nothing ran, nothing charged).
            self.points[name] += float((self.last_cost or {}).get("actualQueryCost") or 0)


def document_name(document: str) -> str:
    """A file name as given; a generated document by its operation name (e.g. the aliased tag batches)."""
    match = re.match(r"\s*(?:mutation|query)\s+(\w+)", document)
    return match.group(1) if match else document


@dataclass
class BenchShop:
    """One emulated shop and the app's row for it, with a seeded workload generator."""

    state: EmulatorState
    remote: ShopState
    shop: Shop
    clock: VirtualClock
    session: Any
    rng: random.Random
    customers: list[int] = field(default_factory=list)
    orders: list[tuple[str, int]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: count(1))

    @classmethod
    def install(
        cls,
        session: Any,
        state: EmulatorState,
        clock: VirtualClock,
        domain: str,
        seed: int,
        plan: str = "standard",
    ) -> BenchShop:
        remote = state.install_shop(domain, plan=plan)
        body = state.tokens.issue_offline(domain, set(state.config.scopes), expiring=False)
        shop = complete_install(session, domain, TokenGrant.from_response(body))
        shop.plan = plan
        session.commit()
        return cls(state, remote, shop, clock, session, random.Random(seed))

    def client(self) -> MeteredClient:
        return MeteredClient(AdminClient(self.shop, session=self.session))

    def pacer(self) -> CostPacer:
        return CostPacer.for_plan(self.shop.plan, clock=self.clock, sleep=self.clock.sleep)

    def add_customers(self, n: int) -> None:
        for i in range(n):
            self.customers.append(int(self.remote.add_customer(first_name=f"Bench{i}")["id"]))

    def buy(self, customer_id: int, amount: int, pos: bool) -> None:
        """An order applied through the member services, as the webhook worker would."""
        oid = str(next(self.ids) + 5_000_000)
        now = self.clock.utc()
        event = PurchaseEvent(
            source="shopify",
            source_id=oid,
            shop_domain=self.shop.domain,
            customer_ref=CustomerRef(shopify_customer_id=str(customer_id)),
            currency="JPY",
            gross_amount=Decimal(amount),
            processed_at=now,
            source_updated_at=now,
            items_count=1,
            source_name="pos" if pos else "web",
            location_id="7001" if pos else None,
            location_name="Shibuya" if pos else None,
        )
        apply_purchase(self.session, self.shop, event, now=now)
        self.orders.append((oid, amount))

    def refund(self, order_id: str, amount: int) -> None:
        now = self.clock.utc()
        event = RefundEvent(
            source="shopify",
            source_id=str(next(self.ids) + 9_000_000),
            order_source_id=order_id,
            amount=Decimal(amount),
            processed_at=now,
            shop_domain=self.shop.domain,
        )
        apply_refund(self.session, self.shop, event, now=now)

    def workload_round(self, share: float = 0.6, refunds: float = 0.1) -> int:
        """Orders for a share of the members (some twice), and refunds of a few earlier orders."""
        changed = 0
        for cid in self.customers:
            if self.rng.random() < share:
                for _ in range(1 + (self.rng.random() < 0.2)):
                    amount = self.rng.choice([800, 1500, 3000, 4000, 9000, 12000])
                    self.buy(cid, amount, pos=self.rng.random() < 0.5)
                changed += 1
        for oid, amount in self.rng.sample(self.orders, int(len(self.orders) * refunds / 4)):
            self.refund(oid, self.rng.randint(1, max(1, amount // 2)))
        self.session.commit()
        self.clock.sleep(3600)
        return changed
