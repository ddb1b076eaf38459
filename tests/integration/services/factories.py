"""Small builders for normalised events in service tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.events import CustomerRef, PurchaseEvent, RefundEvent

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def at(days: float = 0, hours: float = 0) -> datetime:
    """An instant relative to T0."""
    return T0 + timedelta(days=days, hours=hours)


def order(
    order_id: str,
    amount: int | str | Decimal,
    *,
    customer: str | None = "1001",
    day: float = 0,
    version: float | None = None,
    pos_location: str | None = None,
    store_name: str | None = None,
    cancelled: bool = False,
    refunds: tuple[RefundEvent, ...] = (),
    source: str = "shopify",
    code: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> PurchaseEvent:
    """An order snapshot; `version` (days after T0) is its updated_at, by default its processed_at."""
    ref = CustomerRef(shopify_customer_id=customer, external_code=code, email=email, phone=phone)
    return PurchaseEvent(
        source=source,  # type: ignore[arg-type]
        source_id=order_id,
        shop_domain="test-shop.myshopify.com",
        customer_ref=None if ref.is_empty else ref,
        currency="JPY",
        gross_amount=Decimal(str(amount)),
        processed_at=at(day),
        source_updated_at=at(day if version is None else version),
        items_count=1,
        source_name=None if source == "smaregi" else ("pos" if pos_location else "web"),
        location_id=pos_location,
        location_name=store_name,
        cancelled=cancelled,
        refunds=refunds,
    )


def refund(
    refund_id: str, order_id: str, amount: int | str | Decimal, *, day: float = 1, source: str = "shopify"
) -> RefundEvent:
    """A refund of `amount` processed `day` days after T0."""
    return RefundEvent(
        source=source,  # type: ignore[arg-type]
        source_id=refund_id,
        order_source_id=order_id,
        amount=Decimal(str(amount)),
        processed_at=at(day),
        shop_domain="test-shop.myshopify.com",
    )
