"""Request verification for the POS UI extension: `pos_session` sets g.shop from its session token.

The extension gets the token from `shopify.session.getSessionToken()`, "a Shopify OpenID Connect ID Token"
for the user logged into POS, signed with the app's client secret like App Bridge's session tokens
(https://shopify.dev/docs/api/pos-ui-extensions/latest/target-apis/standard-apis/session-api). shopifyapp's
verify_pos_ui_ext_req checks the HS256 signature (current or previous secret), exp/nbf (10 s leeway) and
aud = client id; shop_from_claims (app/shopify/session_token.py) adds what it leaves to the app: every claim
present, a short lifetime, `dest` a myshopify domain and `iss` that shop's admin. The shop comes from `dest`
only, never from the body or a parameter, so every query below is scoped by `g.shop.id`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, jsonify, request

from app.extensions import db
from app.models import Shop
from app.shopify.errors import ShopifyAuthError, ShopifyUnavailable
from app.shopify.sdk import request_input, shopify_app
from app.shopify.session_token import InvalidSessionToken, shop_from_claims
from app.shopify.tokens import existing_shop
from app.shops.installs import exchange_id_token

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def pos_session(view: F) -> F:
    """A call from the POS extension with `Authorization: Bearer <session token>`; anything else -> 401."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        refused = _authenticate()
        return refused if refused is not None else view(*args, **kwargs)

    wrapper.tsunagu_auth = "pos_session"  # type: ignore[attr-defined]  # read by the route-isolation test
    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the view's signature


def error(status: int, code: str, message: str) -> tuple[Response, int]:
    """The JSON error every POS endpoint answers with: a stable code for the extension, a readable message."""
    return jsonify(error=code, message=message), status


def _authenticate() -> tuple[Response, int] | None:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        log.info("pos request refused: no bearer token")
        return error(401, "unauthorized", "A POS session token is required.")
    result = shopify_app().verify_pos_ui_ext_req(request_input(request))
    if not result.ok or result.id_token is None:
        log.info("pos session token refused: %s", result.log.code)
        return error(401, "unauthorized", "The session token is invalid or expired.")
    try:
        domain = shop_from_claims(result.id_token.claims)
    except InvalidSessionToken as exc:
        log.info("pos session token refused: %s", exc)
        return error(401, "unauthorized", "The session token is invalid or expired.")
    try:
        shop = _installed_shop(domain, result.id_token)
    except ShopifyAuthError as exc:
        log.info("pos token exchange refused: %s", exc)
        return error(401, "unauthorized", "The app is not installed on this shop.")
    except ShopifyUnavailable:
        return error(503, "shopify_unavailable", "Shopify could not be reached. Try again in a moment.")
    g.shop = shop
    g.session_token = result.id_token.claims
    return None


def _installed_shop(domain: str, id_token: Any) -> Shop:
    """The installed shop; without an access token the POS token is exchanged for one (it is exchangeable)."""
    shop = existing_shop(db.session, domain)
    if shop is not None and shop.is_installed and shop.token is not None:
        return shop
    return exchange_id_token(domain, id_token, session=db.session)


def actor() -> str:
    """Who acted: the POS user id from the token's `sub` (no name, no email)."""
    return f"pos:{(g.get('session_token') or {}).get('sub', '?')}"


def allow_cross_origin(response: Response) -> Response:
    """POS extensions call from Shopify's extension host, another origin. The token travels in a header, never
    a cookie, so any origin may send it; the browser still needs these headers to let the call through."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Max-Age"] = "7200"
    return response
