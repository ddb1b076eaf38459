"""The one place that builds HTTP clients for Shopify: timeouts, User-Agent, and the local stand-in origin."""

from __future__ import annotations

import re

import httpx
from flask import current_app, has_app_context

from app.config import Settings

# Shopify answers within seconds or not at all; a slow connect means a network problem, so fail fast and let
# the caller's retry policy decide (saleor core/http_client.py does the same).
TIMEOUT = httpx.Timeout(10.0, connect=1.0)
SHOP_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
USER_AGENT = "Tsunagu/0.1 (+https://github.com/tsunagu)"


class _KeepOpen(httpx.BaseTransport):
    """Delegates to a shared transport without closing it when one client is closed."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:  # the owner of the shared transport closes it
        return None


class AdminOriginTransport(httpx.BaseTransport):
    """Sends every request for `https://{shop}.myshopify.com/...` to a stand-in origin, Host kept as the shop.

    This is SHOPIFY_ADMIN_ORIGIN (DESIGN.md): the emulator and the demo replace Shopify this way; production
    never sets it (app/config.py refuses to start if it does).
    """

    def __init__(self, origin: str, inner: httpx.BaseTransport) -> None:
        self.origin = httpx.URL(origin)
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if SHOP_HOST.match(host):
            request.url = request.url.copy_with(
                scheme=self.origin.scheme, host=self.origin.host, port=self.origin.port
            )
            request.headers["Host"] = host
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def shopify_http_client(settings: Settings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx.Client for calls to Shopify; `app.config["SHOPIFY_TRANSPORT"]` (tests) wins when present."""
    if transport is None and has_app_context():
        transport = current_app.config.get("SHOPIFY_TRANSPORT")
    inner: httpx.BaseTransport = _KeepOpen(transport) if transport is not None else httpx.HTTPTransport()
    if settings.admin_origin:
        inner = AdminOriginTransport(settings.admin_origin, inner)
    return httpx.Client(
        transport=inner,
        timeout=TIMEOUT,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,  # Shopify never redirects an API call; a redirect means a wrong origin
    )
