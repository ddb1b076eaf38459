"""The member pages' world: the test shop installed against the Shopify emulator, customers who bought."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.events import CustomerRef, PurchaseEvent
from app.points.purchases import apply_purchase
from emulator.fixtures import TEST_SHOP
from tests.integration.store.conftest import proxy_query
from tests.integration.sync.conftest import install


@pytest.fixture
def remote(emulator_state):
    """The emulated shop (Shopify's side): its customers and the discount codes created."""
    return emulator_state.shop(TEST_SHOP)


@pytest.fixture
def installed(app, session, emulator_state, emulator_transport):
    """The app's row of the test shop with a token the emulator accepts; Shopify calls reach the emulator."""
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport
    try:
        yield install(session, emulator_state, TEST_SHOP)
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


def buy(session, shop, customer: str, amount: str, days_ago: float, *, store: str | None = None, n: int = 0):
    """A purchase `days_ago` (points mature after the 14-day return window), online or at a store."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    apply_purchase(
        session,
        shop,
        PurchaseEvent(
            source="shopify",
            source_id=f"{customer}-{days_ago}-{n}",
            shop_domain=shop.domain,
            customer_ref=CustomerRef(shopify_customer_id=customer),
            currency="JPY",
            gross_amount=Decimal(amount),
            processed_at=at,
            source_updated_at=at,
            source_name="pos" if store else "web",
            location_id="11" if store else None,
            location_name=store,
        ),
    )
    session.commit()


def get(client, path: str, customer: str | None, **params: str):
    return client.get(f"/proxy/{path}?{proxy_query(TEST_SHOP, customer, extra=params)}")
