"""What of a processed webhook body is kept: the fields replay and audit need, never a person's details.

A body is stored whole until it is processed (a failure must be replayable as received). Afterwards, per
topic, only what the handler reads survives — ids, timestamps, amounts, the customer's id — plus a SHA-256 of
the body as received, so an operator can still tell whether a re-delivery carried the same body. Names,
emails, phones, addresses, notes and browser details go (Shopify's protected customer data:
https://shopify.dev/docs/apps/launch/protected-customer-data). Replaying a reduced order, refund or customer
body gives the same domain event as the original (tests/unit/webhooks/test_retention.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

ANY = None  # keep the value as it is (scalars, money bags: no personal data)
Spec = dict[str, Any]

_MONEY = ("amount", "amount_set", "currency")
REFUND: Spec = {
    **dict.fromkeys(("id", "order_id", "admin_graphql_api_id", "created_at", "processed_at", "restock")),
    "refund_line_items": [
        dict.fromkeys(
            ("id", "quantity", "line_item_id", "restock_type", "subtotal", "subtotal_set", "total_tax")
        )
    ],
    "transactions": [
        dict.fromkeys(("id", "kind", "status", "gateway", "created_at", "processed_at", *_MONEY))
    ],
    "order_adjustments": [dict.fromkeys(("id", "kind", "reason", *_MONEY))],
}
ORDER: Spec = {
    **dict.fromkeys(
        (
            "id",
            "admin_graphql_api_id",
            "name",
            "order_number",
            "created_at",
            "updated_at",
            "processed_at",
            "cancelled_at",
            "cancel_reason",
            "closed_at",
            "currency",
            "presentment_currency",
            "financial_status",
            "fulfillment_status",
            "test",
            "source_name",
            "location_id",
            "app_id",
            "subtotal_price",
            "subtotal_price_set",
            "current_subtotal_price",
            "current_subtotal_price_set",
            "total_price",
            "total_price_set",
            "current_total_price",
            "current_total_price_set",
            "total_discounts",
            "total_tax",
            "total_shipping_price_set",
        )
    ),
    "customer": {"id": ANY, "admin_graphql_api_id": ANY},
    "discount_codes": [dict.fromkeys(("code", "amount", "type"))],
    "line_items": [dict.fromkeys(("id", "quantity", "price", "price_set", "product_id", "variant_id"))],
    "refunds": [REFUND],
}
CUSTOMER: Spec = dict.fromkeys(("id", "admin_graphql_api_id", "created_at", "updated_at"))
# customers/merge and the app's own topics carry ids and states only; the shop object of app/uninstalled
# names its owner, so only its ids stay.
MERGE: Spec = dict.fromkeys(
    (
        "admin_graphql_api_customer_kept_id",
        "admin_graphql_api_customer_deleted_id",
        "admin_graphql_api_job_id",
        "status",
    )
)
SHOP: Spec = dict.fromkeys(("id", "myshopify_domain"))
SCOPES: Spec = dict.fromkeys(("id", "previous", "current", "updated_at"))
BULK: Spec = dict.fromkeys(
    ("admin_graphql_api_id", "completed_at", "created_at", "error_code", "status", "type")
)

SPECS: dict[str, Spec] = {
    "refunds/create": REFUND,
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/delete": CUSTOMER,
    "customers/merge": MERGE,
    "app/uninstalled": SHOP,
    "app/scopes_update": SCOPES,
    "bulk_operations/finish": BULK,
}
# Rows the app wrote itself (GraphQL order nodes asking for ids and amounts only) and Smaregi's id-only
# notices hold no personal data: kept as they are.
KEPT_SOURCES = frozenset({"reconcile", "smaregi"})


def _pick(value: Any, spec: Any) -> Any:
    if spec is ANY:
        return value
    if isinstance(spec, list):
        return (
            [_pick(item, spec[0]) for item in value if isinstance(item, dict)]
            if isinstance(value, list)
            else []
        )
    if not isinstance(value, dict):
        return None
    return {key: _pick(value[key], sub) for key, sub in spec.items() if key in value}


def spec_for(topic: str) -> Spec:
    """The fields of `topic` that are kept; unknown topics keep nothing but the hash."""
    if topic.startswith("orders/"):
        return ORDER
    return SPECS.get(topic, {})


def minimised(source: str, topic: str, payload: str) -> str:
    """The stored body reduced to what replay and audit need (see the module docstring)."""
    if source in KEPT_SOURCES:
        return payload
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    kept = _pick(body, spec_for(topic)) if isinstance(body, dict) else {}
    kept = kept if isinstance(kept, dict) else {}
    earlier = body.get("_retained") if isinstance(body, dict) else None  # reduced before (a replayed row)
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
    kept["_retained"] = earlier if isinstance(earlier, dict) else {"sha256": digest}
    return json.dumps(kept, separators=(",", ":"))
