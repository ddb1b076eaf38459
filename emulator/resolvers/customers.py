"""Customer reads (customer, customers), tags (tagsAdd/tagsRemove) and customerMerge."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from emulator.resolvers import metafields as mf
from emulator.resolvers.common import (
    RequestContext,
    access_denied,
    money,
    not_emulated,
    paginate,
    parse_gid,
    require_gid,
)
from emulator.resolvers.search_syntax import SearchFilter, digits, epoch, timestamp
from emulator.state import gid, iso

CUSTOMER_SORT = {
    "ID": lambda c: c["id"],
    "CREATED_AT": lambda c: epoch(c["created_at"]),
    "UPDATED_AT": lambda c: epoch(c["updated_at"]),
    "NAME": lambda c: f"{c.get('last_name') or ''} {c.get('first_name') or ''}".strip().lower(),
}


def rest_customer(ctx: RequestContext, cust: dict) -> dict:
    """REST-shaped customer for webhook bodies (since 2025-01 without tags or marketing consent)."""
    stats = ctx.shop.customer_stats(cust["id"])
    return {
        "id": cust["id"],
        "email": cust.get("email"),
        "created_at": cust["created_at"],
        "updated_at": cust["updated_at"],
        "first_name": cust.get("first_name"),
        "last_name": cust.get("last_name"),
        "state": cust.get("state", "enabled"),
        "note": cust.get("note"),
        "verified_email": cust.get("verified_email", True),
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": cust.get("phone"),
        "currency": ctx.shop.currency,
        "addresses": [],
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", cust["id"]),
        "default_address": None,
        "orders_count": stats["orders_count"],
        "total_spent": str(stats["amount_spent"]),
    }


def customer_node(ctx: RequestContext, cust: dict) -> dict:
    """The GraphQL Customer object over a stored customer (lazy where a field has arguments or cost)."""
    from emulator.resolvers.orders import customer_orders_connection, order_node

    shop = ctx.shop
    owner = gid("Customer", cust["id"])

    def stats() -> dict:
        return shop.customer_stats(cust["id"])

    def display_name() -> str:
        name = " ".join(p for p in (cust.get("first_name"), cust.get("last_name")) if p)
        return name or cust.get("email") or cust.get("phone") or ""

    def last_order(_info) -> dict | None:
        oid = stats()["last_order_id"]
        return order_node(ctx, shop.orders[oid]) if oid else None

    return {
        "__typename": "Customer",
        "id": owner,
        "legacyResourceId": str(cust["id"]),
        "firstName": cust.get("first_name"),
        "lastName": cust.get("last_name"),
        "displayName": lambda _info: display_name(),
        "note": cust.get("note"),
        "state": (cust.get("state") or "enabled").upper(),
        "verifiedEmail": bool(cust.get("verified_email", True)),
        "createdAt": cust["created_at"],
        "updatedAt": cust["updated_at"],
        "tags": list(cust["tags"]),
        # email/phone are deprecated in favour of defaultEmailAddress/defaultPhoneNumber but still served.
        "email": cust.get("email"),
        "phone": cust.get("phone"),
        "defaultEmailAddress": {"emailAddress": cust["email"]} if cust.get("email") else None,
        "defaultPhoneNumber": {"phoneNumber": cust["phone"]} if cust.get("phone") else None,
        "amountSpent": lambda _info: money(stats()["amount_spent"], shop.currency),
        "numberOfOrders": lambda _info: str(stats()["orders_count"]),
        "lastOrder": last_order,
        "orders": lambda info, **args: customer_orders_connection(ctx, cust["id"], args, info),
        "metafield": lambda _info, key, namespace=None: mf.metafield_for(ctx, owner, namespace, key),
        "metafields": lambda _info, **args: mf.metafields_connection(ctx, owner, args),
        "mergeable": lambda _info: {
            "isMergeable": True,
            "reason": None,
            "errorFields": [],
            "mergeInProgress": None,
        },
    }


def customer_getters(ctx: RequestContext) -> dict:
    """Search fields supported on `customers(query:)`."""
    shop = ctx.shop
    return {
        "id": lambda c: c["id"],
        "email": lambda c: c.get("email"),
        "phone": lambda c: digits(c.get("phone")),
        "first_name": lambda c: c.get("first_name"),
        "last_name": lambda c: c.get("last_name"),
        "tag": lambda c: c["tags"],
        "state": lambda c: c.get("state"),
        "created_at": lambda c: timestamp(c["created_at"]),
        "customer_date": lambda c: timestamp(c["created_at"]),
        "updated_at": lambda c: timestamp(c["updated_at"]),
        "orders_count": lambda c: shop.customer_stats(c["id"])["orders_count"],
        "total_spent": lambda c: shop.customer_stats(c["id"])["amount_spent"],
    }


def resolve_customer(ctx: RequestContext, info, id: str) -> dict | None:
    """`customer(id:)`."""
    cid = require_gid(id, "Customer")
    cust = ctx.shop.customers.get(cid) if cid is not None else None
    return customer_node(ctx, cust) if cust else None


def resolve_customers(ctx: RequestContext, info, **args: Any) -> dict:
    """`customers(first/after/query/sortKey/reverse)`."""
    filt = SearchFilter(
        args.get("query"), customer_getters(ctx), ("email", "first_name", "last_name"), {"phone": digits}
    )
    ext = filt.extension(["customers"])
    if ext:
        ctx.search_warnings.append(ext)
    sort = CUSTOMER_SORT.get(args.get("sortKey") or "ID")
    if sort is None:
        raise not_emulated(f"customers(sortKey: {args.get('sortKey')})")
    records = [c for c in ctx.shop.customers.values() if filt.matches(c)]
    return paginate(ctx, records, args, lambda c: [sort(c), c["id"]], lambda c: customer_node(ctx, c))


def _tags(tags: list[str]) -> list[str]:
    """tagsAdd accepts a list whose items may themselves be comma-separated."""
    out: list[str] = []
    for tag in tags:
        out.extend(t.strip() for t in tag.split(",") if t.strip())
    return out


def _tag_target(ctx: RequestContext, node_id: str, field_name: str) -> dict | None:
    cid = require_gid(node_id, "Customer")
    if cid is None:
        kind = node_id.split("/")[-2] if node_id.count("/") >= 3 else node_id
        raise not_emulated(f"tags on {kind}")
    if "write_customers" not in ctx.granted:
        raise access_denied(field_name, "`write_customers` access scope.")
    return ctx.shop.customers.get(cid)


def _changed_tags(ctx: RequestContext, cust: dict, before: list[str]) -> dict:
    if cust["tags"] != before:
        ctx.shop.touch_customer(cust["id"])
        ctx.emit_later("customers/update", rest_customer(ctx, cust))
    return {"node": customer_node(ctx, cust), "userErrors": []}


def resolve_tags_add(ctx: RequestContext, info, id: str, tags: list[str]) -> dict:
    """`tagsAdd`: union, case-insensitive like Shopify, 255 chars a tag."""
    cust = _tag_target(ctx, id, "tagsAdd")
    if cust is None:
        return {"node": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}
    new = _tags(tags)
    too_long = [t for t in new if len(t) > 255]
    if too_long:
        return {"node": None, "userErrors": [{"field": ["tags"], "message": "Tags is invalid"}]}
    before = list(cust["tags"])
    lower = {t.lower() for t in before}
    cust["tags"] = sorted(before + [t for t in dict.fromkeys(new) if t.lower() not in lower], key=str.lower)
    return _changed_tags(ctx, cust, before)


def resolve_tags_remove(ctx: RequestContext, info, id: str, tags: list[str]) -> dict:
    """`tagsRemove`."""
    cust = _tag_target(ctx, id, "tagsRemove")
    if cust is None:
        return {"node": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}
    drop = {t.lower() for t in _tags(tags)}
    before = list(cust["tags"])
    cust["tags"] = [t for t in before if t.lower() not in drop]
    return _changed_tags(ctx, cust, before)


def resolve_customer_merge(
    ctx: RequestContext, info, customerOneId: str, customerTwoId: str, **args: Any
) -> dict:
    """`customerMerge`: customer two survives; orders, tags and missing metafields move over."""
    shop = ctx.shop
    one_id, two_id = parse_gid(customerOneId, "Customer"), parse_gid(customerTwoId, "Customer")
    errors = []
    for field, cid, raw in (
        ("customerOneId", one_id, customerOneId),
        ("customerTwoId", two_id, customerTwoId),
    ):
        if cid is None or cid not in shop.customers:
            errors.append(
                {"field": [field], "message": f"Customer {raw} does not exist", "code": "INVALID_CUSTOMER_ID"}
            )
    if not errors and one_id == two_id:
        errors.append(
            {"field": ["customerTwoId"], "message": "Customers must be different", "code": "INVALID_CUSTOMER"}
        )
    if errors:
        return {"resultingCustomerId": None, "job": None, "userErrors": errors}
    one, two = shop.customers[one_id], shop.customers[two_id]
    override = args.get("overrideFields") or {}
    for field, attr in (
        ("customerIdOfFirstNameToKeep", "first_name"),
        ("customerIdOfLastNameToKeep", "last_name"),
        ("customerIdOfEmailToKeep", "email"),
        ("customerIdOfPhoneNumberToKeep", "phone"),
    ):
        if override.get(field) == customerOneId or not two.get(attr):
            two[attr] = one.get(attr)
    two["tags"] = sorted(set(override["tags"]) if "tags" in override else set(one["tags"]) | set(two["tags"]))
    if "note" in override:
        two["note"] = override["note"]
    two["amount_spent"] = str(
        Decimal(str(two.get("amount_spent") or 0)) + Decimal(str(one.get("amount_spent") or 0))
    )
    two["orders_count"] = int(two.get("orders_count") or 0) + int(one.get("orders_count") or 0)
    for order in shop.customer_orders(one_id):
        shop.update_order(order["id"], customer={**(order.get("customer") or {}), "id": two_id})
    one_owner, two_owner = gid("Customer", one_id), gid("Customer", two_id)
    for key, rec in shop.metafields.pop(one_owner, {}).items():
        shop.metafields.setdefault(two_owner, {}).setdefault(key, {**rec, "owner": two_owner})
    del shop.customers[one_id]
    shop.touch_customer(two_id)
    job_id = gid("Job", shop.next_id("Job"))
    ctx.emit_later(
        "customers/merge",
        {
            "admin_graphql_api_customer_kept_id": two_owner,
            "admin_graphql_api_customer_deleted_id": one_owner,
            "admin_graphql_api_job_id": job_id,
            "status": "completed",
            "errors": [],
            "updated_at": iso(shop.clock()),
        },
    )
    return {
        "resultingCustomerId": two_owner,
        "job": {"id": job_id, "done": True, "query": None},
        "userErrors": [],
    }


def check_customer_ids(ctx: RequestContext, ids: list[str]) -> list[int]:
    """Numeric ids of existing customers, raising for malformed gids."""
    out = []
    for value in ids:
        cid = require_gid(value, "Customer")
        if cid is None or cid not in ctx.shop.customers:
            raise GraphQLError(f"Customer {value} does not exist")
        out.append(cid)
    return out
