"""A bulk order row becomes the same normalised purchase a webhook body would."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.shopify.payloads.bulk import customer_event, order_event
from app.shopify.payloads.rest import NormaliseError

ROW = {
    "id": "gid://shopify/Order/1001",
    "createdAt": "2026-05-01T03:00:00Z",
    "processedAt": "2026-05-01T03:00:00Z",
    "updatedAt": "2026-05-03T09:00:00Z",
    "cancelledAt": None,
    "test": False,
    "sourceName": "pos",
    "currencyCode": "JPY",
    "discountCodes": ["TSU-ABC"],
    "subtotalLineItemsQuantity": 3,
    "subtotalPriceSet": {"shopMoney": {"amount": "12000.0", "currencyCode": "JPY"}},
    "customer": {"id": "gid://shopify/Customer/77"},
    "retailLocation": {"id": "gid://shopify/Location/5", "name": "Shibuya"},
    "refunds": [
        {
            "id": "gid://shopify/Refund/9",
            "createdAt": "2026-05-03T09:00:00Z",
            "processedAt": "2026-05-03T09:00:00Z",
            "totalRefundedSet": {"shopMoney": {"amount": "2000.0"}},
        }
    ],
}


def test_order_row_normalises_like_a_webhook():
    event = order_event(ROW, "x.myshopify.com")
    assert event.source_id == "1001" and event.customer_ref.shopify_customer_id == "77"
    assert event.gross_amount == Decimal("12000.0") and event.net_amount == Decimal("10000.0")
    assert [(r.source_id, r.amount) for r in event.refunds] == [("9", Decimal("2000.0"))]
    assert event.location_id == "5" and event.location_name == "Shibuya" and event.source_name == "pos"
    assert event.items_count == 3 and event.discount_codes == ("TSU-ABC",)
    assert event.source_updated_at.isoformat() == "2026-05-03T09:00:00+00:00"


def test_walk_in_and_cancelled_rows():
    event = order_event({**ROW, "customer": None, "cancelledAt": "2026-05-02T00:00:00Z"}, "x.myshopify.com")
    assert event.customer_ref is None and event.cancelled


def test_unusable_rows_raise_the_normaliser_error():
    with pytest.raises(NormaliseError):
        order_event({**ROW, "updatedAt": None}, "x.myshopify.com")
    with pytest.raises(NormaliseError):
        order_event(["not", "a", "row"], "x.myshopify.com")  # type: ignore[arg-type]


def test_customer_row():
    event = customer_event({"id": "gid://shopify/Customer/77", "email": "a@b.jp", "updatedAt": None}, "x")
    assert event.shopify_customer_id == "77" and event.kind == "create" and event.email == "a@b.jp"
