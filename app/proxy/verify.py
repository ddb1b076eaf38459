"""App-proxy requests: the signature (shopifyapp verify_app_proxy_req), freshness, the logged-in customer."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, request
from shopify_app import verify_app_proxy_req
from sqlalchemy import select

from app.extensions import db
from app.models.shop import Shop


@dataclass(frozen=True, slots=True)
class ProxyContext:
    """A verified storefront request: the shop, the logged-in customer and where the proxy is mounted."""

    shop: Shop
    customer_id: str | None
    path_prefix: str


def verified() -> ProxyContext:
    """The verified context, or 401 (forged, stale or unsigned) / 404 (shop not installed)."""
    settings = current_app.config["SETTINGS"]
    # The raw query string: the signature covers exactly what Shopify sent.
    url = f"{request.base_url}?{request.query_string.decode('latin-1')}"
    result = verify_app_proxy_req(
        {"method": request.method, "headers": {}, "url": url, "body": ""},
        {
            "client_id": settings.api_key,
            "client_secret": settings.api_secret,
            "old_client_secret": settings.api_secret_previous,
        },
    )
    if not result.ok or not result.shop:
        abort(401)
    shop = db.session.scalar(select(Shop).where(Shop.domain == f"{result.shop}.myshopify.com"))
    if shop is None or not shop.is_installed:
        abort(404)
    prefix = request.args.get("path_prefix", "/apps/tsunagu")
    if not prefix.startswith("/") or "//" in prefix or any(c in prefix for c in "\"'<> "):
        prefix = "/apps/tsunagu"
    return ProxyContext(shop, result.logged_in_customer_id or None, prefix.rstrip("/"))
