"""Security headers on every response; CSP frame-ancestors names only the verified shop's admin."""

from __future__ import annotations

from flask import Flask, Response, current_app, g

from app.shopify.session_token import valid_shop_domain

SHOPIFY_ADMIN = "https://admin.shopify.com"


def frame_ancestors(shop_domain: str | None) -> str:
    """The CSP value: the shop and Shopify's admin may frame us; without a verified shop, nobody may.

    Never a wildcard (https://shopify.dev/docs/apps/build/security/set-up-iframe-protection). A local admin
    stand-in (SHOPIFY_ADMIN_ORIGIN, never set in production) is added so the demo admin can frame the app.
    """
    domain = valid_shop_domain(shop_domain)
    if domain is None:
        return "frame-ancestors 'none';"
    sources = [f"https://{domain}", SHOPIFY_ADMIN]
    stand_in = current_app.config["SETTINGS"].admin_origin
    if stand_in:
        sources.append(stand_in)
    return f"frame-ancestors {' '.join(sources)};"


def _secure(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = frame_ancestors(g.get("frame_shop"))
    if g.get("shop") is not None:
        response.headers["Cache-Control"] = "no-store"  # a shop's data must not sit in shared caches
    return response


def _forget_identity() -> None:
    # A request starts with no shop. Flask reuses an app context already pushed (tests, CLI), and with it
    # `g`: a shop verified for an earlier request must never carry over to this one.
    for name in ("shop", "session_token", "frame_shop"):
        g.pop(name, None)


def init_security(app: Flask) -> None:
    """Register the hooks: identity reset before each request, headers after it."""
    app.before_request(_forget_identity)
    app.after_request(_secure)
