"""Helpers for webhook tests: Shopify-shaped bodies and signed POSTs against the app."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from emulator.webhook_sender import sign
from tests.conftest import TEST_ENV

SECRET = TEST_ENV["SHOPIFY_API_SECRET"]
PREVIOUS_SECRET = TEST_ENV["SHOPIFY_API_SECRET_PREVIOUS"]
SHOP = "test-shop.myshopify.com"
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def headers(
    topic: str,
    body: bytes,
    *,
    shop: str = SHOP,
    webhook_id: str | None = None,
    secret: str = SECRET,
    triggered_at: datetime | None = None,
):
    """What Shopify sends with a delivery (triggered now unless said otherwise, as a live event is)."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": (triggered_at or datetime.now(UTC)).isoformat(),
        "X-Shopify-Hmac-Sha256": sign(body, secret),
    }


def post(client, topic: str, payload: dict | bytes, **kwargs):
    """A signed delivery through the Flask test client."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/webhooks", data=body, headers=headers(topic, body, **kwargs))


def _money(amount: Decimal | str, currency: str = "JPY") -> dict[str, Any]:
    text = str(amount)
    return {
        "shop_money": {"amount": text, "currency_code": currency},
        "presentment_money": {"amount": text, "currency_code": currency},
    }


def refund_body(
    refund_id: int, order_id: int, line_subtotal: Decimal | str, *, at: datetime = T0
) -> dict[str, Any]:
    """A refunds/create body refunding goods worth `line_subtotal` (one refund line)."""
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": at.isoformat(),
        "processed_at": at.isoformat(),
        "restock": True,
        "refund_line_items": [
            {
                "id": refund_id * 10,
                "quantity": 1,
                "line_item_id": order_id * 10,
                "restock_type": "return",
                "subtotal": float(line_subtotal),
                "subtotal_set": _money(line_subtotal),
                "total_tax": 0.0,
            }
        ],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": str(line_subtotal), "gateway": "manual"}
        ],
        "order_adjustments": [],
    }


def order_body(
    order_id: int,
    subtotal: Decimal | str = "10000",
    *,
    customer_id: int | None = 7001,
    updated_at: datetime = T0,
    processed_at: datetime = T0,
    refunds: list[dict[str, Any]] | None = None,
    pos_location_id: int | None = None,
    cancelled: bool = False,
    financial_status: str = "paid",
    test: bool = False,
) -> dict[str, Any]:
    """A REST order webhook body. `subtotal` is before refunds; current_* fields deduct the refunds."""
    refunds = refunds or []
    refunded = sum((Decimal(str(r["refund_line_items"][0]["subtotal"])) for r in refunds), Decimal(0))
    current = Decimal(str(subtotal)) - refunded
    body: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": 129785 if pos_location_id else 580111,
        "cancelled_at": (updated_at.isoformat() if cancelled else None),
        "cancel_reason": "customer" if cancelled else None,
        "created_at": processed_at.isoformat(),
        "currency": "JPY",
        "current_subtotal_price": str(current),
        "current_subtotal_price_set": _money(current),
        "current_total_price": str(current + 500),
        "current_total_price_set": _money(current + 500),
        "discount_codes": [],
        "email": "buyer@example.com",
        "financial_status": "refunded"
        if refunded >= Decimal(str(subtotal)) and refunds
        else financial_status,
        "location_id": pos_location_id,
        "name": f"#{order_id}",
        "processed_at": processed_at.isoformat(),
        "source_name": "pos" if pos_location_id else "web",
        "subtotal_price": str(subtotal),
        "subtotal_price_set": _money(subtotal),
        "total_price": str(Decimal(str(subtotal)) + 500),
        "total_shipping_price_set": _money("500"),
        "test": test,
        "updated_at": updated_at.isoformat(),
        "customer": (
            {"id": customer_id, "email": "buyer@example.com", "phone": "+819012345678"}
            if customer_id
            else None
        ),
        "line_items": [{"id": order_id * 10, "quantity": 2, "price": str(subtotal)}],
        "refunds": refunds,
        "shipping_lines": [{"price": "500", "price_set": _money("500")}],
    }
    return body


def later(minutes: int) -> datetime:
    """T0 plus some minutes: a newer snapshot."""
    return T0 + timedelta(minutes=minutes)
