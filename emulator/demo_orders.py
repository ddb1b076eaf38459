"""Order and refund payloads of the demo retailer, shaped like Shopify's REST webhook bodies."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from emulator.demo_catalog import PRODUCTS

JST = timezone(timedelta(hours=9))
ORDER_ID_BASE = 5_600_000_000_000


def iso(moment: datetime) -> str:
    """Shopify's REST timestamp in shop time, e.g. 2026-11-01T10:15:00+09:00."""
    return moment.astimezone(JST).isoformat(timespec="seconds")


def money(amount: int) -> dict:
    value = str(amount)
    return {
        "shop_money": {"amount": value, "currency_code": "JPY"},
        "presentment_money": {"amount": value, "currency_code": "JPY"},
    }


def _tax(amount: int) -> int:
    # Japanese prices include 10 % consumption tax; the tax part is 10/110 of the price, rounded down.
    return amount * 10 // 110


def build_order(
    spec, rng: random.Random, order_number: int, when: datetime, store, customer: dict | None
) -> dict:
    """An order as Shopify sends it in orders/create: POS when `store` is set, online otherwise."""
    channel = "pos" if store else "web"
    order_id = ORDER_ID_BASE + order_number
    items = []
    for position in range(rng.choices([1, 2, 3, 4], weights=[55, 28, 12, 5])[0]):
        title, price, _ = rng.choices(PRODUCTS, weights=[p[2] for p in PRODUCTS])[0]
        quantity = 2 if rng.random() < 0.12 else 1
        product = PRODUCTS.index((title, price, _)) + 1
        items.append(
            {
                "id": order_id * 10 + position,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{order_id * 10 + position}",
                "title": title,
                "name": title,
                "price": str(price),
                "price_set": money(price),
                "quantity": quantity,
                "current_quantity": quantity,
                "sku": f"TSN-{product:03d}",
                "product_id": 8_200_000_000_000 + product,
                "variant_id": 4_400_000_000_000 + product,
                "vendor": "Tsunagu Demo",
                "variant_title": None,
                "taxable": True,
                "gift_card": False,
                "total_discount": "0",
                "tax_lines": [{"title": "消費税", "rate": 0.1, "price": str(_tax(price * quantity))}],
            }
        )
    line_total = sum(int(i["price"]) * i["quantity"] for i in items)
    discount = line_total // 10 if channel == "web" and rng.random() < 0.1 else 0
    shipping = 550 if channel == "web" and line_total - discount < 5000 else 0
    total = line_total - discount + shipping
    created = iso(when)
    order = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_number}",
        "number": order_number - 1000,
        "order_number": order_number,
        "created_at": created,
        "updated_at": created,
        "processed_at": created,
        "closed_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "confirmed": True,
        "test": False,
        "currency": "JPY",
        "presentment_currency": "JPY",
        "taxes_included": True,
        "financial_status": "paid",
        "fulfillment_status": "fulfilled" if channel == "pos" else None,
        "source_name": channel,
        "source_identifier": f"{store.id}-1-{order_number}" if store else None,
        "location_id": store.id if store else None,
        "user_id": 1 if store else None,
        "email": (customer or {}).get("email") or "",
        "contact_email": (customer or {}).get("email"),
        "phone": None,
        "customer_locale": "ja",
        "buyer_accepts_marketing": False,
        "payment_gateway_names": [rng.choice(["cash", "shopify_payments"])]
        if store
        else ["shopify_payments"],
        "tags": "",
        "note": None,
        "discount_codes": [{"code": "WELCOME10", "amount": str(discount), "type": "percentage"}]
        if discount
        else [],
        "line_items": items,
        "shipping_lines": [{"title": "通常配送", "price": str(shipping)}] if channel == "web" else [],
        "refunds": [],
        "customer": _order_customer(customer) if customer else None,
        "billing_address": _address(customer) if customer else None,
        "shipping_address": _address(customer) if customer and channel == "web" else None,
    }
    for key, amount in (
        ("total_line_items_price", line_total),
        ("subtotal_price", line_total - discount),
        ("current_subtotal_price", line_total - discount),
        ("total_discounts", discount),
        ("current_total_discounts", discount),
        ("total_tax", _tax(total)),
        ("current_total_tax", _tax(total)),
        ("total_price", total),
        ("current_total_price", total),
    ):
        order[key] = str(amount)
        order[f"{key}_set"] = money(amount)
    if rng.random() < spec.cancel_ratio:
        cancelled = when + timedelta(hours=rng.randrange(1, 24))
        if cancelled <= spec.end:
            order |= {
                "cancelled_at": iso(cancelled),
                "cancel_reason": rng.choice(["customer", "inventory", "declined"]),
                "financial_status": "voided",
                "updated_at": iso(cancelled),
            }
    return order


def _order_customer(customer: dict) -> dict:
    fields = (
        "id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "created_at",
        "updated_at",
        "state",
        "currency",
    )
    return {key: customer[key] for key in fields} | {
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer['id']}",
        "default_address": customer["default_address"],
    }


def _address(customer: dict) -> dict:
    address = customer["default_address"]
    return address | {"name": f"{customer['last_name']} {customer['first_name']}", "address1": "1-2-3"}


def build_refunds(spec, rng: random.Random, order: dict, refund_ids: Iterator[int]) -> list[dict]:
    """The refund (full or partial) a returned order gets within its 20-day return window, if any."""
    if order["cancelled_at"] or rng.random() >= spec.refund_ratio:
        return []
    processed = datetime.fromisoformat(order["processed_at"]) + timedelta(
        days=rng.randrange(1, 21), hours=rng.randrange(24)
    )
    if processed > spec.end:
        return []
    full = rng.random() >= spec.partial_refund_share
    items = order["line_items"] if full else [rng.choice(order["line_items"])]
    total = int(order["total_price"])
    # A partial refund returns one unit, less the order's 10 % discount if it had one.
    unit = int(items[0]["price"])
    amount = total if full else min(total, unit - (unit // 10 if order["discount_codes"] else 0))
    refund_id = next(refund_ids)
    at = iso(processed)
    return [
        {
            "id": refund_id,
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
            "order_id": order["id"],
            "created_at": at,
            "processed_at": at,
            "note": "返品" if order["location_id"] else "お客様都合による返品",
            "restock": True,
            "refund_line_items": [
                {
                    "id": refund_id * 10 + n,
                    "line_item_id": item["id"],
                    "quantity": item["quantity"] if full else 1,
                    "restock_type": "return",
                    "location_id": order["location_id"],
                    "subtotal": str(int(item["price"]) * (item["quantity"] if full else 1)),
                    "total_tax": str(_tax(int(item["price"]) * (item["quantity"] if full else 1))),
                }
                for n, item in enumerate(items)
            ],
            "transactions": [
                {
                    "id": refund_id * 10 + 9,
                    "order_id": order["id"],
                    "kind": "refund",
                    "status": "success",
                    "gateway": order["payment_gateway_names"][0],
                    "amount": str(amount),
                    "currency": "JPY",
                    "created_at": at,
                    "processed_at": at,
                }
            ],
            "order_adjustments": [],
        }
    ]
