"""How requests reach the emulator: the shop named by the Host header, and an in-process httpx transport."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import httpx

SHOP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def shop_from_host(host: str | None) -> str | None:
    """The myshopify domain in a Host header value (port dropped), or None if it names no shop."""
    if not host:
        return None
    name = host.split(":", 1)[0].strip().lower()
    return name if SHOP_PATTERN.match(name) else None


def shop_from_environ(environ: dict) -> str | None:
    """The shop a WSGI request is addressed to (Host header, as on https://{shop}/...)."""
    return shop_from_host(environ.get("HTTP_HOST"))


class _HostAsServerName:
    """Make SERVER_NAME/PORT agree with the Host header, as a reverse proxy in front of Shopify would."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        if host:
            name, _, port = host.partition(":")
            environ["SERVER_NAME"] = name
            if port:
                environ["SERVER_PORT"] = port
        return self.app(environ, start_response)


def emulator_transport(app_wsgi: WSGIApp) -> httpx.BaseTransport:
    """An httpx transport that calls the emulator in-process, keeping the request's Host (the shop)."""
    # httpx sends the URL's host as Host unless the caller set one; either way it arrives as HTTP_HOST.
    return httpx.WSGITransport(app=_HostAsServerName(app_wsgi))
