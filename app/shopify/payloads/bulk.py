"""Bulk-export JSONL rows (GraphQL shape) in the webhook normaliser's input shape.

The install backfill must credit through exactly the path webhooks take (app/shopify/payloads/rest.py), so a
bulk row is handed to the same `order_from_rest` / `customer_from_rest` after renaming GraphQL fields to the
webhook body's. Bulk queries cannot nest a connection inside a list, so a refund carries its total only:
the order's earning base is then its original subtotal (`subtotal_price`), and each refund's goods amount is
what it returned (its shipping share cannot be told apart in a bulk row).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.events import CustomerEvent, PurchaseEvent
from app.shopify.payloads.rest import NormaliseError, customer_from_rest, order_from_rest


def _amount(money_bag: Any) -> str | None:
    if isinstance(money_bag, Mapping) and isinstance(money_bag.get("shopMoney"), Mapping):
        amount = money_bag["shopMoney"].get("amount")
        return str(amount) if amount is not None else None
    return None


def order_body(node: Mapping[str, Any]) -> dict[str, Any]:
    """An order row of bulk_orders.graphql as an `orders/*` webhook body."""
    refunds = []
    for refund in node.get("refunds") or []:
        if not isinstance(refund, Mapping):
            continue
        refunds.append(
            {
                "id": refund.get("id"),
                "created_at": refund.get("createdAt"),
                "processed_at": refund.get("processedAt") or refund.get("createdAt"),
                "refund_line_items": [],
                "transactions": [
                    {"kind": "refund", "status": "success", "amount": _amount(refund.get("totalRefundedSet"))}
                ],
                "order_adjustments": [],
            }
        )
    location = node.get("retailLocation") if isinstance(node.get("retailLocation"), Mapping) else None
    customer = node.get("customer") if isinstance(node.get("customer"), Mapping) else None
    subtotal = node.get("subtotalPriceSet")
    return {
        "id": node.get("id"),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "test": node.get("test") is True,
        "source_name": node.get("sourceName"),
        "currency": node.get("currencyCode"),
        "subtotal_price": _amount(subtotal),
        "subtotal_price_set": {
            "shop_money": {
                "amount": _amount(subtotal),
                "currency_code": (subtotal or {}).get("shopMoney", {}).get("currencyCode")
                or node.get("currencyCode"),
            }
        },
        "location_id": location.get("id") if location else None,
        "customer": {"id": customer.get("id")} if customer else None,
        "line_items": [{"quantity": int(node.get("subtotalLineItemsQuantity") or 0)}],
        "discount_codes": [
            {"code": code} for code in node.get("discountCodes") or [] if isinstance(code, str)
        ],
        "refunds": refunds,
    }


def order_event(node: Mapping[str, Any], shop_domain: str) -> PurchaseEvent:
    """The normalised purchase of one bulk order row (NormaliseError when the row is unusable)."""
    if not isinstance(node, Mapping):
        raise NormaliseError("bulk row is not an object")
    event = order_from_rest(order_body(node), shop_domain)
    location = node.get("retailLocation")
    if isinstance(location, Mapping) and location.get("name") and event.location_name is None:
        # The webhook body names no location; the bulk row does, so keep it (favourite store, history).
        from dataclasses import replace

        event = replace(event, location_name=str(location["name"])[:255])
    return event


def customer_event(node: Mapping[str, Any], shop_domain: str) -> CustomerEvent:
    """The normalised customer of one bulk customer row."""
    if not isinstance(node, Mapping):
        raise NormaliseError("bulk row is not an object")
    birthday = node.get("birthDate")  # the aliased `metafield` of bulk_customers.graphql, null when unset
    body = {
        "id": node.get("id"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "updated_at": node.get("updatedAt"),
        "metafields": [birthday] if isinstance(birthday, Mapping) else [],
    }
    return customer_from_rest(body, "create", shop_domain)
