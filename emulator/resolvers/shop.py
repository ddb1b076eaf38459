"""The shop itself and its locations."""

from __future__ import annotations

from typing import Any

from emulator.resolvers.common import RequestContext, paginate, require_gid
from emulator.resolvers.search_syntax import SearchFilter
from emulator.state import gid

PLAN_DISPLAY = {
    "standard": "Shopify",
    "advanced": "Advanced",
    "plus": "Shopify Plus",
    "enterprise": "Shopify Plus",
}


def resolve_shop(ctx: RequestContext, info) -> dict:
    """`shop`: name, domain, currency, timezone, plan."""
    shop = ctx.shop
    return {
        "__typename": "Shop",
        "id": gid("Shop", shop.shop_id),
        "name": shop.name,
        "myshopifyDomain": shop.domain,
        "url": f"https://{shop.domain}",
        "currencyCode": shop.currency,
        "ianaTimezone": shop.timezone,
        "enabledPresentmentCurrencies": [shop.currency],
        "plan": {
            "publicDisplayName": PLAN_DISPLAY[shop.plan],
            "shopifyPlus": shop.plan in ("plus", "enterprise"),
            "partnerDevelopment": False,
        },
        "taxesIncluded": shop.currency == "JPY",
    }


def location_node(ctx: RequestContext, loc: dict) -> dict:
    """A Location object (id, legacyResourceId, name, ...), as the vendored 2026-07 schema types them.

    https://shopify.dev/docs/api/admin-graphql/2026-07/objects/Location; per the schema's `offline_scopes`,
    `Location.name` needs `read_locations` (or `read_markets_home`), `legacyResourceId` no scope.
    """
    return {
        "__typename": "Location",
        "id": loc["admin_graphql_api_id"],
        "legacyResourceId": str(loc["id"]),
        "name": loc["name"],
        "isActive": bool(loc.get("active", True)),
        "createdAt": loc["created_at"],
        "updatedAt": loc["updated_at"],
        "deactivatedAt": None if loc.get("active", True) else loc["updated_at"],
        "address": {
            "address1": loc.get("address1"),
            "city": loc.get("city"),
            "province": loc.get("province"),
            "zip": loc.get("zip"),
            "countryCode": loc.get("country_code"),
        },
    }


def resolve_locations(ctx: RequestContext, info, **args: Any) -> dict:
    """`locations(first/after/query/includeInactive)`, sorted by name like Shopify's default."""
    filt = SearchFilter(
        args.get("query"), {"name": lambda loc: loc["name"], "id": lambda loc: loc["id"]}, ("name",)
    )
    ext = filt.extension(["locations"])
    if ext:
        ctx.search_warnings.append(ext)
    records = [
        loc
        for loc in ctx.shop.locations.values()
        if (args.get("includeInactive") or loc.get("active", True)) and filt.matches(loc)
    ]
    key = (
        (lambda loc: [loc["id"]])
        if args.get("sortKey") == "ID"
        else (lambda loc: [loc["name"].lower(), loc["id"]])
    )
    return paginate(ctx, records, args, key, lambda loc: location_node(ctx, loc))


def resolve_location(ctx: RequestContext, info, id: str | None = None) -> dict | None:
    """`location(id:)`."""
    if id is None:
        primary = min(ctx.shop.locations.values(), key=lambda loc: loc["id"], default=None)
        return location_node(ctx, primary) if primary else None
    lid = require_gid(id, "Location")
    loc = ctx.shop.locations.get(lid) if lid is not None else None
    return location_node(ctx, loc) if loc else None
