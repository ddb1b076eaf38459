"""GraphQL Admin `Order` nodes (orders_updated_since.graphql) -> the same PurchaseEvent as the REST webhook.

Field names and shapes differ from the REST body (camelCase, MoneyBag, gids, `retailLocation` instead of
`location_id`); the rules are the same as in rest.py, so one order gives one event whichever way it came.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from app.domain.events import CustomerRef, PurchaseEvent, RefundEvent
from app.shopify.payloads.rest import ZERO, NormaliseError, decimal, legacy_id, require_id, timestamp


def _shop_money(bag: Any, what: str) -> Decimal | None:
    if not isinstance(bag, Mapping):
        return None
    money = bag.get("shopMoney")
    if not isinstance(money, Mapping) or money.get("amount") is None:
        return None
    return decimal(money["amount"], what)


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    if isinstance(connection, Mapping):
        nodes = connection.get("nodes")
        return [n for n in nodes if isinstance(n, Mapping)] if isinstance(nodes, list) else []
    return []


def _refund_parts(refund: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(goods amount, part already out of currentSubtotalPriceSet), as refund_parts() does for REST."""
    lines_connection = refund.get("refundLineItems")
    page = lines_connection.get("pageInfo") if isinstance(lines_connection, Mapping) else None
    if isinstance(page, Mapping) and page.get("hasNextPage"):
        # A partial sum would under-credit the refund; the order is left to the webhook or the backfill.
        raise NormaliseError("refund has more line items than one page")
    lines = _nodes(lines_connection)
    line_total = sum((_shop_money(n.get("subtotalSet"), "refund line subtotal") or ZERO for n in lines), ZERO)
    if lines:
        return max(line_total, ZERO), line_total
    returned = sum(
        (
            _shop_money(tx.get("amountSet"), "refund transaction") or ZERO
            for tx in _nodes(refund.get("transactions"))
            if tx.get("kind") == "REFUND" and tx.get("status") == "SUCCESS"
        ),
        ZERO,
    )
    return max(returned, ZERO), ZERO


def order_from_graphql(node: Mapping[str, Any], shop_domain: str) -> PurchaseEvent:
    """One `Order` node of orders_updated_since.graphql."""
    if not isinstance(node, Mapping):
        raise NormaliseError("order node is not an object")
    order_id = require_id(node.get("id"), "order.id")
    raw_refunds = [r for r in node.get("refunds") or [] if isinstance(r, Mapping)]
    refunds = []
    deducted = ZERO
    for refund in raw_refunds:
        amount, taken_out = _refund_parts(refund)
        deducted += taken_out
        refunds.append(
            RefundEvent(
                source="shopify",
                source_id=require_id(refund.get("id"), "refund.id"),
                order_source_id=order_id,
                amount=amount,
                processed_at=timestamp(
                    refund.get("processedAt") or refund.get("createdAt"), "refund.processedAt"
                ),
                shop_domain=shop_domain,
            )
        )
    current = _shop_money(node.get("currentSubtotalPriceSet"), "currentSubtotalPriceSet")
    base = (
        current + deducted if current is not None else _shop_money(node.get("subtotalPriceSet"), "subtotal")
    )
    if base is None:
        raise NormaliseError("order has no subtotal")
    customer = node.get("customer")
    customer_id = legacy_id(customer.get("id")) if isinstance(customer, Mapping) else None
    location = node.get("retailLocation")
    app = node.get("app")
    codes = node.get("discountCodes") or []
    source_name = node.get("sourceName")
    try:
        return PurchaseEvent(
            source="shopify",
            source_id=order_id,
            shop_domain=shop_domain,
            customer_ref=CustomerRef(shopify_customer_id=customer_id) if customer_id else None,
            currency=_currency(node),
            gross_amount=max(base, ZERO),
            processed_at=timestamp(node.get("processedAt") or node.get("createdAt"), "order.processedAt"),
            source_updated_at=timestamp(node.get("updatedAt"), "order.updatedAt"),
            items_count=int(node.get("subtotalLineItemsQuantity") or 0),
            source_name=source_name[:255] if isinstance(source_name, str) and source_name else None,
            location_id=legacy_id(location.get("id")) if isinstance(location, Mapping) else None,
            location_name=_location_name(location),
            app_id=legacy_id(app.get("id")) if isinstance(app, Mapping) else None,
            cancelled=node.get("cancelledAt") is not None,
            cancelled_at=timestamp(node.get("cancelledAt"), "order.cancelledAt", required=False),
            test=node.get("test") is True,
            discount_codes=tuple(str(c) for c in codes if isinstance(c, str)),
            refunds=tuple(refunds),
        )
    except NormaliseError:
        raise
    except ValueError as exc:
        raise NormaliseError(f"order is inconsistent: {type(exc).__name__}") from exc


def _location_name(location: Any) -> str | None:
    """`retailLocation.name` (the store), trimmed to the column; None when absent or empty."""
    name = location.get("name") if isinstance(location, Mapping) else None
    return str(name)[:255] if isinstance(name, str) and name.strip() else None


def _currency(node: Mapping[str, Any]) -> str:
    for key in ("currentSubtotalPriceSet", "subtotalPriceSet"):
        bag = node.get(key)
        money = bag.get("shopMoney") if isinstance(bag, Mapping) else None
        if isinstance(money, Mapping) and isinstance(money.get("currencyCode"), str):
            return str(money["currencyCode"])[:3]
    code = node.get("currencyCode")
    if isinstance(code, str) and code:
        return code[:3]
    raise NormaliseError("order has no currency")
