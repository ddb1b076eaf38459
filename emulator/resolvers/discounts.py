"""discountCodeBasicCreate and discountCodeFreeShippingCreate: single-use codes for one customer.

Both validate their input alike: required title, code and startsAt, a code unique in the shop (TAKEN), known
customers; the free-shipping one needs no customerGets.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeBasicCreate
https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeFreeShippingCreate
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.resolvers.common import RequestContext, paginate, parse_gid
from emulator.state import gid

CODE_MAX = 255


def _status(ctx: RequestContext, disc: dict) -> str:
    now = datetime.fromisoformat(ctx.shop.now_iso().replace("Z", "+00:00"))
    starts = datetime.fromisoformat(disc["starts_at"].replace("Z", "+00:00"))
    ends = datetime.fromisoformat(disc["ends_at"].replace("Z", "+00:00")) if disc["ends_at"] else None
    if starts > now:
        return "SCHEDULED"
    if ends is not None and ends <= now:
        return "EXPIRED"
    return "ACTIVE"


def discount_node(ctx: RequestContext, disc: dict) -> dict:
    """A DiscountCodeNode wrapping a DiscountCodeBasic or a DiscountCodeFreeShipping."""
    code_node = {
        "__typename": "DiscountRedeemCode",
        "id": gid("DiscountRedeemCode", disc["id"]),
        "code": disc["code"],
        "asyncUsageCount": disc["usage_count"],
    }
    basic = {
        "__typename": disc.get("typename", "DiscountCodeBasic"),
        "title": disc["title"],
        "status": lambda _info: _status(ctx, disc),
        "startsAt": disc["starts_at"],
        "endsAt": disc["ends_at"],
        "createdAt": disc["created_at"],
        "updatedAt": disc["created_at"],
        "usageLimit": disc["usage_limit"],
        "appliesOncePerCustomer": disc["applies_once_per_customer"],
        "asyncUsageCount": disc["usage_count"],
        "tags": list(disc["tags"]),
        "codes": lambda _info, **args: paginate(ctx, [code_node], args, lambda n: n["id"], lambda n: n),
    }
    return {
        "__typename": "DiscountCodeNode",
        "id": gid("DiscountCodeNode", disc["id"]),
        "codeDiscount": basic,
    }


def _err(field: list[str], message: str, code: str, arg: str = "basicCodeDiscount") -> dict:
    return {"field": [arg, *field], "message": message, "code": code, "extraInfo": None}


def resolve_discount_code_basic_create(ctx: RequestContext, info, basicCodeDiscount: dict) -> dict:
    """Validate the input like Shopify (required fields, unique code, known customers), then store it."""
    data = basicCodeDiscount
    errors = []
    gets = data.get("customerGets") or {}
    value = gets.get("value") or {}
    if not gets or not value or not gets.get("items"):
        errors.append(_err(["customerGets"], "Customer gets can't be blank", "BLANK"))
    pct = value.get("percentage")
    if pct is not None and not 0 < pct <= 1:
        errors.append(
            _err(
                ["customerGets", "value", "percentage"],
                "Value must be between 0.0 and 1.0",
                "VALUE_OUTSIDE_RANGE",
            )
        )
    return _create(ctx, data, errors, "basicCodeDiscount", "DiscountCodeBasic", value)


def resolve_discount_code_free_shipping_create(
    ctx: RequestContext, info, freeShippingCodeDiscount: dict
) -> dict:
    """The same checks for a free-shipping code; `destination` defaults to every country, as in the admin."""
    data = freeShippingCodeDiscount
    arg = "freeShippingCodeDiscount"
    errors = []
    destination = data.get("destination") or {"all": True}
    if not destination.get("all") and not (destination.get("countries") or {}).get("add"):
        errors.append(_err(["destination"], "Destination can't be blank", "BLANK", arg))
    return _create(ctx, data, errors, arg, "DiscountCodeFreeShipping", {"destination": destination})


def _create(ctx: RequestContext, data: dict, errors: list, arg: str, typename: str, value: dict) -> dict:
    shop = ctx.shop
    for name in ("title", "code", "startsAt"):
        if not data.get(name):
            errors.append(_err([name], f"{name[0].upper()}{name[1:]} can't be blank", "BLANK", arg))
    code = (data.get("code") or "").strip()
    if len(code) > CODE_MAX:
        errors.append(_err(["code"], f"Code is too long (maximum is {CODE_MAX} characters)", "TOO_LONG", arg))
    if code and any(d["code"].lower() == code.lower() for d in shop.discounts.values()):
        errors.append(_err(["code"], "Code must be unique. Please try a different code.", "TAKEN", arg))
    context = data.get("context") or data.get("customerSelection")
    if not context:
        errors.append(_err(["context"], "Context can't be blank", "BLANK", arg))
    customer_ids: list[int] = []
    for raw in ((context or {}).get("customers") or {}).get("add") or []:
        cid = parse_gid(raw, "Customer")
        if cid is None or cid not in shop.customers:
            errors.append(
                _err(["context", "customers", "add"], f"Customer {raw} does not exist", "INVALID", arg)
            )
        else:
            customer_ids.append(cid)
    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    did = shop.next_id("DiscountCodeNode")
    disc: dict[str, Any] = {
        "id": did,
        "typename": typename,
        "title": data["title"],
        "code": code,
        "starts_at": data["startsAt"],
        "ends_at": data.get("endsAt"),
        "usage_limit": data.get("usageLimit"),
        "applies_once_per_customer": bool(data.get("appliesOncePerCustomer", False)),
        "customer_ids": customer_ids,
        "all_customers": bool((context or {}).get("all")),
        "value": value,
        "tags": list(data.get("tags") or []),
        "created_at": shop.now_iso(),
        "usage_count": 0,
    }
    shop.discounts[did] = disc
    return {"codeDiscountNode": discount_node(ctx, disc), "userErrors": []}


def resolve_code_discount_node_by_code(ctx: RequestContext, info, code: str) -> dict | None:
    """`codeDiscountNodeByCode`: find a code again (e.g. after a crash between create and commit)."""
    wanted = code.strip().lower()
    disc = next((d for d in ctx.shop.discounts.values() if d["code"].lower() == wanted), None)
    return discount_node(ctx, disc) if disc else None
