"""Request verification for the embedded app: `embedded_page` for page loads, `session_fetch` for fetches.

Both verify the App Bridge session token with shopifyapp's verify_app_home_req, add the claim checks it leaves
to the app (app/shopify/session_token.py), and set `g.shop` from the token's `dest` — never from a parameter.
Every query a decorated route makes must be scoped by `g.shop.id`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, make_response, request
from shopify_app import Res, ResultWithExchangeableIdToken

from app.extensions import db
from app.models import Shop
from app.shopify.errors import ShopifyAuthError, ShopifyUnavailable
from app.shopify.sdk import request_input, shopify_app
from app.shopify.session_token import InvalidSessionToken, shop_from_claims
from app.shopify.tokens import existing_shop
from app.shops.installs import exchange_id_token, remember_locale

log = logging.getLogger(__name__)

PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # noqa: S105  (a URL path, not a secret)
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
F = TypeVar("F", bound=Callable[..., Any])


def embedded_page(view: F) -> F:
    """A page in the admin iframe: valid id_token -> g.shop; missing or stale -> App Bridge gets a new one."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        refused = _authenticate(fetch=False)
        return refused if refused is not None else view(*args, **kwargs)

    wrapper.tsunagu_auth = "embedded_page"  # type: ignore[attr-defined]  # read by the route-isolation test
    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the view's signature


def session_fetch(view: F) -> F:
    """A fetch or form post from the iframe (`Authorization: Bearer <id_token>`); invalid -> 401 + retry."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        refused = _authenticate(fetch=True)
        return refused if refused is not None else view(*args, **kwargs)

    wrapper.tsunagu_auth = "session_fetch"  # type: ignore[attr-defined]  # read by the route-isolation test
    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the view's signature


def _authenticate(*, fetch: bool) -> Response | None:
    """Set g.shop and g.session_token, or return the response that refuses the request."""
    if fetch and not request.headers.get("Authorization", "").startswith("Bearer "):
        # Without the header verify_app_home_req would treat this as a page load and redirect; a fetch
        # must instead get the 401 that makes App Bridge retry with a fresh token.
        return _unauthorized(retry=True)
    result = shopify_app().verify_app_home_req(request_input(request), PATCH_ID_TOKEN_PATH)
    if not result.ok or result.id_token is None:
        log.info("session token refused: %s", result.log.code)
        if fetch:
            return _unauthorized(retry=True)
        return _from_res(result.response)
    try:
        domain = shop_from_claims(result.id_token.claims)
    except InvalidSessionToken as exc:
        log.info("session token refused: %s", exc)
        return _unauthorized(retry=fetch)
    try:
        shop = _installed_shop(domain, result)
    except ShopifyAuthError as exc:
        log.info("token exchange refused: %s", exc)
        if fetch or result.invalid_token_response is None:
            return _unauthorized(retry=fetch)
        return _from_res(result.invalid_token_response)  # page: back to App Bridge for a fresh id_token
    except ShopifyUnavailable:
        return _plain(503, "Shopify could not be reached. Please reload in a moment.")
    if not fetch:
        remember_locale(db.session, shop, request.args.get("locale"))
    g.shop = shop
    g.session_token = result.id_token.claims
    g.frame_shop = domain  # app/security.py: CSP frame-ancestors for this verified shop
    return None


def _installed_shop(domain: str, result: ResultWithExchangeableIdToken) -> Shop:
    """The installed shop; the first load (or a reinstall, or a dead token) exchanges the id_token."""
    shop = existing_shop(db.session, domain)
    if shop is not None and shop.is_installed and shop.token is not None:
        return shop
    if result.id_token is None:  # verified results always carry it; keep the type checker honest
        raise ShopifyAuthError("verified request without an id_token")
    return exchange_id_token(domain, result.id_token, session=db.session)


def _unauthorized(*, retry: bool) -> Response:
    response = _plain(401, "Unauthorized")
    if retry:
        response.headers[RETRY_HEADER] = "1"
    return response


def _plain(status: int, body: str) -> Response:
    response = make_response(body, status)
    response.mimetype = "text/plain"
    return response


def _from_res(res: Res) -> Response:
    """A Flask response from shopifyapp's response description (redirects, patch page, 401)."""
    response = make_response(res.body, res.status)
    for name, value in res.headers.items():
        if name.lower() != "content-security-policy":  # app/security.py sets it for every response
            response.headers[name] = value
    if not res.body:
        response.mimetype = "text/plain"
    return response
