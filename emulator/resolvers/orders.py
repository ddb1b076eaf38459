"""Order reads resolved from the stored REST-shaped orders (order, orders, Customer.orders)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from emulator.resolvers.common import (
    RequestContext,
    list_first,
    money_bag,
    not_emulated,
    paginate,
    require_gid,
)
from emulator.resolvers.search_syntax import SearchFilter, epoch, timestamp
from emulator.state import gid, refund_amount

# Without read_all_orders an app only sees the last 60 days of orders
# (https://shopify.dev/docs/api/usage/access-scopes#orders-permissions).
READ_ORDERS_WINDOW = timedelta(days=60)

ORDER_SORT = {
    "PROCESSED_AT": lambda o: epoch(o.get("processed_at") or o["created_at"]),
    "CREATED_AT": lambda o: epoch(o["created_at"]),
    "UPDATED_AT": lambda o: epoch(o["updated_at"]),
    "ID": lambda o: o["id"],
    "ORDER_NUMBER": lambda o: o.get("order_number") or o["id"],
    "TOTAL_PRICE": lambda o: float(o.get("total_price") or 0),
}
FINANCIAL = {
    "authorized": "AUTHORIZED",
    "expired": "EXPIRED",
    "paid": "PAID",
    "partially_paid": "PARTIALLY_PAID",
    "partially_refunded": "PARTIALLY_REFUNDED",
    "pending": "PENDING",
    "refunded": "REFUNDED",
    "voided": "VOIDED",
}


def visible(ctx: RequestContext, order: dict) -> bool:
    """Whether the token's scopes let the app see this order at all."""
    if "read_all_orders" in ctx.granted:
        return True
    created = timestamp(order["created_at"])
    now = timestamp(ctx.shop.now_iso())
    return created is None or now is None or created >= now - READ_ORDERS_WINDOW


def _line_item_node(ctx: RequestContext, item: dict) -> dict:
    cur = ctx.shop.currency
    qty = int(item.get("quantity") or 0)
    price = Decimal(str(item.get("price") or "0"))
    return {
        "__typename": "LineItem",
        "id": item.get("admin_graphql_api_id") or gid("LineItem", item.get("id", 0)),
        "name": item.get("name") or item.get("title") or "",
        "title": item.get("title") or item.get("name") or "",
        "variantTitle": item.get("variant_title"),
        "vendor": item.get("vendor"),
        "sku": item.get("sku"),
        "quantity": qty,
        "currentQuantity": int(item.get("current_quantity", qty)),
        "originalUnitPriceSet": money_bag(price, cur),
        "originalTotalSet": money_bag(price * qty, cur),
        "isGiftCard": bool(item.get("gift_card", False)),
    }


def _refund_node(ctx: RequestContext, refund: dict) -> dict:
    cur = ctx.shop.currency

    def refund_line_items(_info, **args):
        return paginate(
            ctx,
            list(enumerate(refund.get("refund_line_items", []))),
            args,
            lambda pair: pair[0],
            lambda pair: {
                "__typename": "RefundLineItem",
                "id": gid("RefundLineItem", pair[1].get("id", pair[0])),
                "quantity": int(pair[1].get("quantity") or 0),
                "restockType": str(pair[1].get("restock_type") or "no_restock").upper(),
                "subtotalSet": money_bag(pair[1].get("subtotal") or "0", cur),
                "lineItem": _line_item_node(
                    ctx, pair[1].get("line_item") or {"id": pair[1].get("line_item_id", 0)}
                ),
            },
        )

    def transactions(_info, **args):
        txs = list(enumerate(refund.get("transactions", [])))
        return paginate(ctx, txs, args, lambda p: p[0], lambda p: _transaction_node(ctx, refund, p[0], p[1]))

    return {
        "__typename": "Refund",
        "id": refund["admin_graphql_api_id"],
        "legacyResourceId": str(refund["id"]),
        "createdAt": refund["created_at"],
        "processedAt": refund.get("processed_at") or refund["created_at"],
        "updatedAt": refund.get("updated_at") or refund["created_at"],
        "note": refund.get("note"),
        "totalRefundedSet": money_bag(refund_amount(refund), cur),
        "refundLineItems": refund_line_items,
        "transactions": transactions,
    }


def _transaction_node(ctx: RequestContext, refund: dict, index: int, tx: dict) -> dict:
    """An OrderTransaction from a REST refund's `transactions[]`."""
    when = tx.get("processed_at") or tx.get("created_at") or refund["created_at"]
    return {
        "__typename": "OrderTransaction",
        "id": tx.get("admin_graphql_api_id")
        or gid("OrderTransaction", tx.get("id") or f"{refund['id']}{index}"),
        "kind": str(tx.get("kind") or "refund").upper(),
        "status": str(tx.get("status") or "success").upper(),
        "gateway": tx.get("gateway"),
        "amountSet": money_bag(tx.get("amount") or "0", ctx.shop.currency),
        "createdAt": tx.get("created_at") or when,
        "processedAt": when,
        "test": bool(tx.get("test", False)),
    }


def order_node(ctx: RequestContext, order: dict) -> dict:
    """The GraphQL Order object over a REST-shaped order."""
    from emulator.resolvers.customers import customer_node
    from emulator.resolvers.shop import location_node

    shop = ctx.shop
    cur = order.get("currency") or shop.currency

    def customer(_info):
        cid = (order.get("customer") or {}).get("id")
        cust = shop.customers.get(int(cid)) if cid is not None else None
        return customer_node(ctx, cust) if cust else None

    def retail_location(_info):
        lid = order.get("location_id")
        loc = shop.locations.get(int(lid)) if lid is not None else None
        return location_node(ctx, loc) if loc else None

    def refunds(_info, first=None):
        return [_refund_node(ctx, r) for r in list_first(order.get("refunds", []), first)]

    def line_items(_info, **args):
        items = order.get("line_items", [])
        return paginate(
            ctx, list(enumerate(items)), args, lambda p: p[0], lambda p: _line_item_node(ctx, p[1])
        )

    refunded = sum((refund_amount(r) for r in order.get("refunds", [])), Decimal(0))
    qty = sum(int(i.get("quantity") or 0) for i in order.get("line_items", []))
    codes = [d.get("code") for d in order.get("discount_codes", []) if d.get("code")]
    tags = order.get("tags") or ""
    return {
        "__typename": "Order",
        "id": order["admin_graphql_api_id"],
        "legacyResourceId": str(order["id"]),
        "name": order["name"],
        "number": int(order.get("number") or order["id"]),
        "createdAt": order["created_at"],
        "updatedAt": order["updated_at"],
        "processedAt": order.get("processed_at") or order["created_at"],
        "cancelledAt": order.get("cancelled_at"),
        "cancelReason": str(order["cancel_reason"]).upper() if order.get("cancel_reason") else None,
        "closedAt": order.get("closed_at"),
        "sourceName": order.get("source_name"),
        "sourceIdentifier": order.get("source_identifier"),
        "currencyCode": cur,
        "presentmentCurrencyCode": order.get("presentment_currency") or cur,
        "test": bool(order.get("test", False)),
        "note": order.get("note"),
        "tags": [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else list(tags),
        "discountCodes": codes,
        "discountCode": codes[0] if codes else None,
        "displayFinancialStatus": FINANCIAL.get(str(order.get("financial_status") or "").lower()),
        "currentTotalPriceSet": money_bag(order.get("current_total_price") or "0", cur),
        "totalPriceSet": money_bag(order.get("total_price") or "0", cur),
        "subtotalPriceSet": money_bag(order.get("subtotal_price") or "0", cur),
        "currentSubtotalPriceSet": money_bag(
            order.get("current_subtotal_price") or order.get("subtotal_price") or "0", cur
        ),
        "totalRefundedSet": money_bag(refunded, cur),
        "subtotalLineItemsQuantity": qty,
        "currentSubtotalLineItemsQuantity": qty,
        "totalDiscountsSet": money_bag(order.get("total_discounts") or "0", cur),
        "currentTotalDiscountsSet": money_bag(
            order.get("current_total_discounts") or order.get("total_discounts") or "0", cur
        ),
        "totalTaxSet": money_bag(order.get("total_tax") or "0", cur),
        "currentTotalTaxSet": money_bag(order.get("current_total_tax") or order.get("total_tax") or "0", cur),
        "closed": bool(order.get("closed_at")),
        "confirmed": bool(order.get("confirmed", True)),
        "fullyPaid": str(order.get("financial_status") or "").lower()
        in ("paid", "partially_refunded", "refunded"),
        "unpaid": str(order.get("financial_status") or "").lower()
        in ("pending", "authorized", "expired", "voided"),
        "email": order.get("email"),
        "phone": order.get("phone"),
        "customerLocale": order.get("customer_locale"),
        "customer": customer,
        "retailLocation": retail_location,
        "refunds": refunds,
        "lineItems": line_items,
    }


def order_getters(ctx: RequestContext) -> dict:
    """Search fields supported on `orders(query:)`."""
    return {
        "id": lambda o: o["id"],
        "name": lambda o: o["name"],
        "created_at": lambda o: timestamp(o["created_at"]),
        "updated_at": lambda o: timestamp(o["updated_at"]),
        "processed_at": lambda o: timestamp(o.get("processed_at") or o["created_at"]),
        "customer_id": lambda o: (o.get("customer") or {}).get("id"),
        "financial_status": lambda o: o.get("financial_status"),
        "source_name": lambda o: o.get("source_name"),
        "location_id": lambda o: o.get("location_id"),
        "status": lambda o: (
            "cancelled" if o.get("cancelled_at") else ("closed" if o.get("closed_at") else "open")
        ),
        "test": lambda o: str(bool(o.get("test", False))).lower(),
        "tag": lambda o: [t.strip() for t in (o.get("tags") or "").split(",") if t.strip()],
        "discount_code": lambda o: [d.get("code") for d in o.get("discount_codes", [])],
    }


def _orders(ctx: RequestContext, records: list[dict], args: dict, path: list[str]) -> dict:
    filt = SearchFilter(args.get("query"), order_getters(ctx), ("name",))
    ext = filt.extension(path)
    if ext:
        ctx.search_warnings.append(ext)
    if args.get("savedSearchId"):
        raise not_emulated("orders(savedSearchId:)")
    sort = ORDER_SORT.get(args.get("sortKey") or "PROCESSED_AT")
    if sort is None:
        raise not_emulated(f"orders(sortKey: {args.get('sortKey')})")
    matching = [o for o in records if visible(ctx, o) and filt.matches(o)]
    return paginate(ctx, matching, args, lambda o: [sort(o), o["id"]], lambda o: order_node(ctx, o))


def resolve_order(ctx: RequestContext, info, id: str) -> dict | None:
    """`order(id:)`."""
    oid = require_gid(id, "Order")
    order = ctx.shop.orders.get(oid) if oid is not None else None
    return order_node(ctx, order) if order and visible(ctx, order) else None


def resolve_orders(ctx: RequestContext, info, **args: Any) -> dict:
    """`orders(first/after/query/sortKey/reverse)`."""
    return _orders(ctx, list(ctx.shop.orders.values()), args, ["orders"])


def customer_orders_connection(ctx: RequestContext, customer_id: int, args: dict, info) -> dict:
    """`Customer.orders(...)`."""
    return _orders(ctx, ctx.shop.customer_orders(customer_id), args, [*map(str, info.path.as_list())])
