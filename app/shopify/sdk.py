"""Shopify's official `shopifyapp` package, configured once per app, and Flask requests in its input shape."""

from __future__ import annotations

from functools import lru_cache

from flask import Request, current_app
from shopify_app import RequestInput, ShopifyApp

from app.config import Settings


def settings() -> Settings:
    """The running app's Settings."""
    running: Settings = current_app.config["SETTINGS"]
    return running


@lru_cache(maxsize=4)
def _sdk(client_id: str, client_secret: str, old_client_secret: str | None) -> ShopifyApp:
    return ShopifyApp(client_id, client_secret, old_client_secret)


def shopify_app(config: Settings | None = None) -> ShopifyApp:
    """The ShopifyApp for these credentials (the previous secret is accepted during a rotation)."""
    config = config or settings()
    return _sdk(config.api_key, config.api_secret, config.api_secret_previous)


def shop_name(domain: str) -> str:
    """`x` from `x.myshopify.com`: shopifyapp builds `https://{name}.myshopify.com` itself."""
    return domain.removesuffix(".myshopify.com")


def request_input(request: Request, config: Settings | None = None) -> RequestInput:
    """The request as shopifyapp reads it; the URL is rebuilt on APP_URL so proxies cannot change it."""
    config = config or settings()
    path = request.full_path.rstrip("?") if request.query_string else request.path
    return {
        "method": request.method,
        "headers": dict(request.headers.items()),
        "url": config.app_url + path,
        # App Home verification reads headers and URL only; the body (possibly personal data) stays out.
        "body": "",
    }
