"""HTTP clients for the non-Shopify APIs (Smaregi, LINE): timeouts, User-Agent, and a test transport hook."""

from __future__ import annotations

import httpx
from flask import current_app, has_app_context

# Both APIs answer within seconds; a slow connect is a network problem and the caller's retry policy decides.
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
USER_AGENT = "Tsunagu/0.1 (+https://github.com/tsunagu)"


class _KeepOpen(httpx.BaseTransport):
    """Delegates to a shared transport without closing it when one client is closed."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:  # the owner of the shared transport closes it
        return None


def integration_http_client(name: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx.Client for one integration; `app.config["<NAME>_TRANSPORT"]` (the stand-ins) wins when set."""
    if transport is None and has_app_context():
        transport = current_app.config.get(f"{name.upper()}_TRANSPORT")
    inner = _KeepOpen(transport) if transport is not None else httpx.HTTPTransport(retries=1)
    return httpx.Client(
        transport=inner, timeout=TIMEOUT, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )
