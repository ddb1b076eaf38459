"""Shopify REST-shaped webhook bodies -> the domain's normalised events (app/domain/events.py).

Money comes from `*_set.shop_money` when present (the shop currency even for multi-currency orders), else the
plain field. Ids are Shopify's numeric ids as strings, the same whether they came from REST or a GraphQL gid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

from app.domain.events import (
    CustomerEvent,
    CustomerEventKind,
    CustomerMergeEvent,
    CustomerRef,
    PurchaseEvent,
    RefundEvent,
)
from app.shopify.payloads.birthdays import birth_months

ZERO = Decimal("0")


class NormaliseError(ValueError):
    """The body is not the shape Shopify sends; retrying cannot help. Messages never quote the body."""


def legacy_id(value: Any) -> str | None:
    """Shopify's numeric id as a string, from an int, a digit string or a gid (gid://shopify/Order/123)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        tail = value.rsplit("/", 1)[-1].split("?", 1)[0]
        if tail.isdigit():
            return tail
    return None


def require_id(value: Any, what: str) -> str:
    """A numeric id or a NormaliseError naming the field (never its value)."""
    found = legacy_id(value)
    if found is None:
        raise NormaliseError(f"{what} is missing or not a Shopify id")
    return found


@overload
def timestamp(value: Any, what: str, *, required: Literal[True] = True) -> datetime: ...


@overload
def timestamp(value: Any, what: str, *, required: bool) -> datetime | None: ...


def timestamp(value: Any, what: str, *, required: bool = True) -> datetime | None:
    """An ISO 8601 timestamp with offset, as Shopify sends them."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise NormaliseError(f"{what} is missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise NormaliseError(f"{what} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise NormaliseError(f"{what} has no UTC offset")
    return parsed


def decimal(value: Any, what: str) -> Decimal:
    """A money amount as Decimal (Shopify sends strings; numbers are accepted too)."""
    if isinstance(value, bool) or value is None:
        raise NormaliseError(f"{what} is missing")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise NormaliseError(f"{what} is not an amount") from exc
    if not amount.is_finite():
        raise NormaliseError(f"{what} is not an amount")
    return amount


def money(obj: Mapping[str, Any], key: str) -> Decimal | None:
    """`key_set.shop_money.amount` when present, else `key`; None when neither is there."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, Mapping):
        shop_money = money_set.get("shop_money")
        if isinstance(shop_money, Mapping) and shop_money.get("amount") is not None:
            return decimal(shop_money["amount"], f"{key}_set")
    if obj.get(key) is not None:
        return decimal(obj[key], key)
    return None


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int = 255) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _refund_amount(line_total: Decimal, has_lines: bool, transactions: Decimal, shipping: Decimal) -> Decimal:
    """Goods refunded, in the earning base: the line items' subtotals, else money returned minus shipping."""
    if has_lines:
        return max(line_total, ZERO)
    return max(transactions - shipping, ZERO)


def refund_parts(refund: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(goods amount of the refund, the part of it that `current_subtotal_price` already deducted)."""
    lines = [item for item in _list(refund, "refund_line_items") if isinstance(item, Mapping)]
    line_total = sum((money(item, "subtotal") or ZERO for item in lines), ZERO)
    transactions = sum(
        (
            money(tx, "amount") or ZERO
            for tx in _list(refund, "transactions")
            if isinstance(tx, Mapping) and tx.get("kind") == "refund" and tx.get("status") == "success"
        ),
        ZERO,
    )
    # REST records a refunded shipping charge as a negative order adjustment of kind shipping_refund.
    shipping = -sum(
        (
            money(adj, "amount") or ZERO
            for adj in _list(refund, "order_adjustments")
            if isinstance(adj, Mapping) and adj.get("kind") == "shipping_refund"
        ),
        ZERO,
    )
    amount = _refund_amount(line_total, bool(lines), transactions, shipping)
    return amount, (line_total if lines else ZERO)


def refund_from_rest(refund: Mapping[str, Any], shop_domain: str, order_id: str | None = None) -> RefundEvent:
    """A `refunds/create` body, or one entry of an order's `refunds[]`."""
    if not isinstance(refund, Mapping):
        raise NormaliseError("refund is not an object")
    order_source_id = order_id or require_id(refund.get("order_id"), "refund.order_id")
    amount, _ = refund_parts(refund)
    processed = refund.get("processed_at") or refund.get("created_at")
    return RefundEvent(
        source="shopify",
        source_id=require_id(refund.get("id"), "refund.id"),
        order_source_id=order_source_id,
        amount=amount,
        processed_at=timestamp(processed, "refund.processed_at"),
        shop_domain=shop_domain,
    )


def customer_ref_from(customer: Any) -> CustomerRef | None:
    """The buyer by Shopify id only: orders never need the email or phone (protected data kept minimal)."""
    if not isinstance(customer, Mapping):
        return None
    customer_id = legacy_id(customer.get("id"))
    return CustomerRef(shopify_customer_id=customer_id) if customer_id else None


def order_from_rest(order: Mapping[str, Any], shop_domain: str) -> PurchaseEvent:
    """An `orders/*` body (create, updated, paid, cancelled, edited all carry the full order)."""
    if not isinstance(order, Mapping):
        raise NormaliseError("order is not an object")
    order_id = require_id(order.get("id"), "order.id")
    refunds = tuple(
        refund_from_rest(refund, shop_domain, order_id)
        for refund in _list(order, "refunds")
        if isinstance(refund, Mapping)
    )
    # current_subtotal_price already has refunded lines taken out; add them back to get the pre-refund base.
    deducted = sum(
        (refund_parts(r)[1] for r in _list(order, "refunds") if isinstance(r, Mapping)),
        ZERO,
    )
    current = money(order, "current_subtotal_price")
    base = current + deducted if current is not None else money(order, "subtotal_price")
    if base is None:
        raise NormaliseError("order has neither current_subtotal_price nor subtotal_price")
    items = sum(
        int(item.get("quantity") or 0)
        for item in _list(order, "line_items")
        if isinstance(item, Mapping) and isinstance(item.get("quantity"), int)
    )
    codes = tuple(
        str(code["code"])
        for code in _list(order, "discount_codes")
        if isinstance(code, Mapping) and isinstance(code.get("code"), str)
    )
    try:
        return PurchaseEvent(
            source="shopify",
            source_id=order_id,
            shop_domain=shop_domain,
            customer_ref=customer_ref_from(order.get("customer")),
            currency=_currency(order),
            gross_amount=max(base, ZERO),
            processed_at=timestamp(
                order.get("processed_at") or order.get("created_at"), "order.processed_at"
            ),
            source_updated_at=timestamp(order.get("updated_at"), "order.updated_at"),
            items_count=items,
            source_name=_text(order.get("source_name")),
            location_id=legacy_id(order.get("location_id")),
            app_id=legacy_id(order.get("app_id")),
            cancelled=order.get("cancelled_at") is not None,
            cancelled_at=timestamp(order.get("cancelled_at"), "order.cancelled_at", required=False),
            test=order.get("test") is True,
            discount_codes=codes,
            refunds=refunds,
        )
    except NormaliseError:
        raise
    except ValueError as exc:  # the dataclass's own checks (naive datetimes, negative amounts)
        raise NormaliseError(f"order is inconsistent: {type(exc).__name__}") from exc


def _currency(order: Mapping[str, Any]) -> str:
    """The shop currency: the shop_money currency of the subtotal, else `currency`."""
    for key in ("current_subtotal_price_set", "subtotal_price_set", "total_price_set"):
        money_set = order.get(key)
        if isinstance(money_set, Mapping) and isinstance(money_set.get("shop_money"), Mapping):
            code = money_set["shop_money"].get("currency_code")
            if isinstance(code, str) and code:
                return code[:3]
    code = order.get("currency")
    if isinstance(code, str) and code:
        return code[:3]
    raise NormaliseError("order has no currency")


def customer_from_rest(body: Mapping[str, Any], kind: CustomerEventKind, shop_domain: str) -> CustomerEvent:
    """A `customers/create|update|delete` body (no tags nor consent since API 2025-01).

    `metafields` is there only when the subscription asked for their namespaces
    (https://shopify.dev/docs/api/admin-graphql/latest/input-objects/WebhookSubscriptionInput); the bulk
    export row carries the birthday the same way (app/shopify/payloads/bulk.py).
    """
    email = body.get("email")
    phone = body.get("phone")
    return CustomerEvent(
        kind=kind,
        shopify_customer_id=require_id(body.get("id"), "customer.id"),
        updated_at=timestamp(body.get("updated_at"), "customer.updated_at", required=False),
        email=email if isinstance(email, str) and email else None,
        phone=phone if isinstance(phone, str) and phone else None,
        shop_domain=shop_domain,
        birth_months=birth_months(body.get("metafields")) if kind != "delete" else (),
    )


def merge_from_rest(
    body: Mapping[str, Any], shop_domain: str, occurred_at: datetime | None
) -> CustomerMergeEvent:
    """A completed `customers/merge` body: the deleted customer folds into the kept one."""
    kept = require_id(body.get("admin_graphql_api_customer_kept_id"), "merge.customer_kept_id")
    deleted = require_id(body.get("admin_graphql_api_customer_deleted_id"), "merge.customer_deleted_id")
    job = legacy_id(body.get("admin_graphql_api_job_id"))
    try:
        return CustomerMergeEvent(
            surviving_id=kept,
            merged_ids=(deleted,),
            shop_domain=shop_domain,
            occurred_at=occurred_at,
            source_id=f"job:{job}" if job else f"merge:{deleted}->{kept}",
        )
    except ValueError as exc:
        raise NormaliseError("merge keeps and deletes the same customer") from exc


def subject_of(topic: str, body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(resource id, customer id) a body is about, read at record time for operators and redaction."""
    if topic.startswith("orders/"):
        return legacy_id(body.get("id")), _customer_id(body.get("customer"))
    if topic == "refunds/create":
        return legacy_id(body.get("order_id")), None
    if topic in ("customers/create", "customers/update", "customers/delete"):
        customer = legacy_id(body.get("id"))
        return customer, customer
    if topic == "customers/merge":
        return legacy_id(body.get("admin_graphql_api_customer_kept_id")), legacy_id(
            body.get("admin_graphql_api_customer_deleted_id")
        )
    if topic in ("customers/data_request", "customers/redact"):
        customer = _customer_id(body.get("customer"))
        return customer, customer
    return None, None


def _customer_id(customer: Any) -> str | None:
    return legacy_id(customer.get("id")) if isinstance(customer, Mapping) else None
