"""GraphQL Order nodes -> PurchaseEvent: shapes the emulator equivalence test does not reach."""

from decimal import Decimal

import pytest

from app.shopify.payloads.graphql import order_from_graphql
from app.shopify.payloads.rest import NormaliseError

SHOP = "test-shop.myshopify.com"


def money(amount: str) -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": "JPY"}}


def node(**overrides) -> dict:
    base = {
        "id": "gid://shopify/Order/11",
        "updatedAt": "2026-11-01T10:00:00Z",
        "processedAt": "2026-11-01T09:00:00+09:00",
        "createdAt": "2026-11-01T09:00:00+09:00",
        "cancelledAt": None,
        "test": False,
        "sourceName": "pos",
        "currencyCode": "JPY",
        "retailLocation": {"id": "gid://shopify/Location/655441491"},
        "customer": {"id": "gid://shopify/Customer/42"},
        "discountCodes": ["WELCOME"],
        "subtotalLineItemsQuantity": 3,
        "subtotalPriceSet": money("12000"),
        "currentSubtotalPriceSet": money("9000"),
        "refunds": [
            {
                "id": "gid://shopify/Refund/5",
                "createdAt": "2026-11-02T10:00:00Z",
                "processedAt": "2026-11-02T10:00:00Z",
                "refundLineItems": {
                    "pageInfo": {"hasNextPage": False},
                    "nodes": [{"subtotalSet": money("3000")}],
                },
                "transactions": {"nodes": []},
            }
        ],
    }
    base.update(overrides)
    return base


def test_a_pos_order_with_a_refund():
    event = order_from_graphql(node(), SHOP)
    assert (event.source_id, event.location_id, event.customer_ref.shopify_customer_id) == (
        "11",
        "655441491",
        "42",
    )
    assert event.gross_amount == Decimal("12000")  # current subtotal plus the refunded line
    assert [(r.source_id, r.amount) for r in event.refunds] == [("5", Decimal("3000"))]
    assert event.discount_codes == ("WELCOME",) and event.items_count == 3
    assert event.location_name is None  # the location's name was not asked for


def test_the_retail_location_name_names_the_store():
    named = node(retailLocation={"id": "gid://shopify/Location/655441491", "name": "渋谷店"})
    assert order_from_graphql(named, SHOP).location_name == "渋谷店"
    blank = node(retailLocation={"id": "gid://shopify/Location/655441491", "name": "  "})
    assert order_from_graphql(blank, SHOP).location_name is None


def test_a_refund_without_lines_counts_successful_refund_transactions():
    refund = node()["refunds"][0] | {
        "refundLineItems": {"pageInfo": {"hasNextPage": False}, "nodes": []},
        "transactions": {
            "nodes": [
                {"kind": "REFUND", "status": "SUCCESS", "amountSet": money("700")},
                {"kind": "REFUND", "status": "FAILURE", "amountSet": money("999")},
            ]
        },
    }
    event = order_from_graphql(node(refunds=[refund], currentSubtotalPriceSet=money("12000")), SHOP)
    assert event.refunds[0].amount == Decimal("700") and event.gross_amount == Decimal("12000")


def test_a_refund_with_more_lines_than_one_page_is_refused_rather_than_under_counted():
    refund = node()["refunds"][0]
    refund["refundLineItems"]["pageInfo"]["hasNextPage"] = True
    with pytest.raises(NormaliseError, match="more line items"):
        order_from_graphql(node(refunds=[refund]), SHOP)
