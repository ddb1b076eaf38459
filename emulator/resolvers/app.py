"""The app's own objects: webhook subscriptions (shop-scoped) and appUninstall."""

from __future__ import annotations

from typing import Any

from emulator.resolvers.common import RequestContext, paginate
from emulator.schema import API_VERSION
from emulator.state import gid


def _topic_enum(topic: str) -> str:
    return topic.replace("/", "_").upper()


def subscription_node(sub: dict) -> dict:
    """A WebhookSubscription created through the API for this shop."""
    return {
        "__typename": "WebhookSubscription",
        "id": gid("WebhookSubscription", sub["id"]),
        "legacyResourceId": str(sub["id"]),
        "topic": _topic_enum(sub["topic"]),
        "uri": sub["uri"],
        "format": "JSON",
        "filter": None,
        "includeFields": [],
        "metafieldNamespaces": [],
        "name": None,
        "createdAt": sub["created_at"],
        "updatedAt": sub["updated_at"],
        "apiVersion": {"handle": API_VERSION, "displayName": API_VERSION, "supported": True},
    }


def resolve_webhook_subscriptions(ctx: RequestContext, info, **args: Any) -> dict:
    """`webhookSubscriptions`: only shop-scoped subscriptions made through the API.

    App-scoped subscriptions from shopify.app.toml are not listed here by Shopify either
    (https://shopify.dev/docs/api/admin-graphql/latest/queries/webhookSubscriptions).
    """
    subs = list(ctx.shop.webhook_subscriptions)
    topics = args.get("topics")
    if topics:
        subs = [s for s in subs if _topic_enum(s["topic"]) in topics]
    if args.get("uri"):
        subs = [s for s in subs if s["uri"] == args["uri"]]
    return paginate(ctx, subs, args, lambda s: s["id"], subscription_node)


def app_node(ctx: RequestContext) -> dict:
    """The App object for this app: its id carries the numeric app id that `$app` resolves to
    (https://shopify.dev/docs/apps/build/custom-data/ownership), its apiKey the client id."""
    return {
        "__typename": "App",
        "id": gid("App", ctx.shop.app_id),
        "apiKey": ctx.state.api_key,
        "title": "Tsunagu",
        "handle": "tsunagu",
        "embedded": True,
    }


def resolve_current_app_installation(ctx: RequestContext, info) -> dict:
    """`currentAppInstallation`: the calling app's installation on this shop
    (https://shopify.dev/docs/api/admin-graphql/latest/queries/currentAppInstallation)."""
    return {
        "__typename": "AppInstallation",
        "id": gid("AppInstallation", ctx.shop.shop_id * 1000 + 1),
        "app": app_node(ctx),
        "accessScopes": [{"handle": s, "description": s} for s in sorted(ctx.granted)],
    }


def resolve_app_uninstall(ctx: RequestContext, info) -> dict:
    """`appUninstall`: the shop drops the app, tokens stop working, app/uninstalled is sent."""
    shop = ctx.shop
    shop.installed = False
    ctx.state.tokens.revoke(shop.domain)
    ctx.emit_later(
        "app/uninstalled",
        {
            "id": shop.shop_id,
            "name": shop.name,
            "domain": shop.domain,
            "myshopify_domain": shop.domain,
            "currency": shop.currency,
            "iana_timezone": shop.timezone,
            "plan_name": shop.plan,
            "updated_at": shop.now_iso(),
        },
    )
    return {"app": app_node(ctx), "userErrors": []}
