"""The one place that builds HTTP clients for Shopify: timeouts, User-Agent, and the local stand-in origin."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.http_client import http_client
from app.shopify.session_token import valid_shop_domain

# Shopify answers within seconds or not at all: connect within a second or count it as a network problem.
TIMEOUT = httpx.Timeout(10.0, connect=1.0)


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
        if valid_shop_domain(host):
            request.url = request.url.copy_with(
                scheme=self.origin.scheme, host=self.origin.host, port=self.origin.port
            )
            request.headers["Host"] = host
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def shopify_http_client(settings: Settings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx.Client for calls to Shopify; `app.config["SHOPIFY_TRANSPORT"]` (tests) wins when present."""
    origin = settings.admin_origin

    def to_stand_in(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        return AdminOriginTransport(origin, inner) if origin else inner

    return http_client("shopify", transport, timeout=TIMEOUT, wrap=to_stand_in)
