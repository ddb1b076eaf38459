"""The one builder of HTTP clients for outside APIs (Shopify, Smaregi, LINE): timeouts, User-Agent, test hook.

Tests and the demo put a stand-in in front of an API by setting `app.config["<NAME>_TRANSPORT"]` to an httpx
transport (e.g. SHOPIFY_TRANSPORT, SMAREGI_TRANSPORT, LINE_TRANSPORT); nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from flask import current_app, has_app_context

# The APIs answer within seconds or not at all; a slow connect means a network problem, so fail fast and let
# the caller's retry policy decide (saleor core/http_client.py does the same).
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
USER_AGENT = "Tsunagu/0.1 (+https://github.com/tsunagu)"


class KeepOpen(httpx.BaseTransport):
    """Delegates to a shared transport without closing it when one client is closed."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:  # the owner of the shared transport closes it
        return None


def http_client(
    name: str,
    transport: httpx.BaseTransport | None = None,
    *,
    timeout: httpx.Timeout = TIMEOUT,
    retries: int = 0,
    wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None,
) -> httpx.Client:
    """An httpx.Client for the API `name`; a transport given, else `app.config["<NAME>_TRANSPORT"]`, wins.

    `retries` retries failed connects only (httpx.HTTPTransport); `wrap` may reroute requests (Shopify's
    stand-in origin). Redirects are not followed: none of these APIs redirects a call; one means a wrong URL.
    """
    if transport is None and has_app_context():
        transport = current_app.config.get(f"{name.upper()}_TRANSPORT")
    inner: httpx.BaseTransport = (
        KeepOpen(transport) if transport is not None else httpx.HTTPTransport(retries=retries)
    )
    if wrap is not None:
        inner = wrap(inner)
    return httpx.Client(
        transport=inner, timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )
