"""GET /auth, GET /auth/callback (merchants opening the app URL directly) and GET /auth/patch-id-token."""

from __future__ import annotations

import base64
import binascii
import logging
import tomllib
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import httpx
from flask import Blueprint, Response, abort, g, make_response, redirect, request, session

from app.extensions import db
from app.install.embedded import PATCH_ID_TOKEN_PATH
from app.install.oauth import (
    OAuthRejected,
    consume_state,
    new_state,
    same,
    verify_query_hmac,
    verify_timestamp,
)
from app.shopify.http import shopify_http_client
from app.shopify.sdk import request_input, settings, shopify_app
from app.shopify.session_token import valid_shop_domain
from app.shopify.tokens import TokenGrant
from app.shops.installs import complete_install, refresh_shop_details

log = logging.getLogger(__name__)
bp = Blueprint("install", __name__)
STATE_COOKIE_KEY = "oauth_state"
CDN_APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
APP_TOML = Path(__file__).resolve().parents[2] / "shopify.app.toml"


@bp.get("/auth")
def start():
    """Send the merchant to Shopify's consent screen with a fresh single-use state."""
    config = settings()
    shop = valid_shop_domain(request.args.get("shop", "").strip().lower())
    if shop is None:
        abort(400, "A valid shop domain (x.myshopify.com) is required.")
    if "hmac" in request.args:  # Shopify-signed links (from the admin) must verify; typed URLs carry none
        try:
            verify_query_hmac(request.args.to_dict(), config)
            verify_timestamp(request.args.to_dict())
        except OAuthRejected as exc:
            abort(400, str(exc))
    # Nothing is written here: the state is signed, and spent only by a callback whose HMAC verified.
    nonce = new_state(shop, config.secret_key)
    session[STATE_COOKIE_KEY] = nonce  # binds the grant to this browser (login CSRF)
    query = {
        "client_id": config.api_key,
        "scope": ",".join(toml_scopes()),
        "redirect_uri": f"{config.app_url}/auth/callback",
        "state": nonce,
    }
    if config.admin_origin:  # the local stand-in is reached on its own origin, the shop named in the query
        return redirect(f"{config.admin_origin}/admin/oauth/authorize?{urlencode(query | {'shop': shop})}")
    return redirect(f"https://{shop}/admin/oauth/authorize?{urlencode(query)}")


@bp.get("/auth/callback")
def callback():
    """Verify everything Shopify sent, trade the code for an expiring offline token, open the app."""
    config = settings()
    params = request.args.to_dict()
    shop = valid_shop_domain(params.get("shop"))
    try:
        if shop is None:
            raise OAuthRejected("invalid shop domain")
        verify_query_hmac(params, config)
        verify_timestamp(params)
        expected = session.pop(STATE_COOKIE_KEY, "")
        if not expected or not same(expected, params.get("state", "")):
            raise OAuthRejected("state does not match this browser")
        consume_state(db.session, params.get("state", ""), shop, config.secret_key)
        db.session.commit()  # the nonce is spent even if the code exchange below fails
    except OAuthRejected as exc:
        db.session.rollback()
        log.info("install callback refused: %s", exc)
        abort(400, f"Install could not be verified: {exc}.")
    grant = _exchange_code(shop, params.get("code", ""))
    shop_row = complete_install(db.session, shop, grant)
    db.session.commit()
    if refresh_shop_details(db.session, shop_row):
        db.session.commit()
    log.info("shop %s installed through the authorization-code grant", shop_row.id)
    return redirect(_admin_app_url(shop, params.get("host", "")))


@bp.get(PATCH_ID_TOKEN_PATH)
def patch_id_token():
    """shopifyapp's page that lets App Bridge put a fresh id_token on the URL and reload."""
    config = settings()
    shop = valid_shop_domain(request.args.get("shop"))
    if shop is None:  # the shop ends up in a CSP header: validate it before anything else
        abort(400, "A valid shop domain is required.")
    result = shopify_app(config).app_home_patch_id_token(request_input(request, config))
    body = result.response.body
    if result.ok and config.app_bridge_url != CDN_APP_BRIDGE:
        body = body.replace(CDN_APP_BRIDGE, config.app_bridge_url)  # the demo's App Bridge stand-in
    response: Response = make_response(body, result.response.status)
    for name, value in result.response.headers.items():
        if name.lower() not in {"content-security-policy", "content-type"}:
            response.headers[name] = value
    response.mimetype = "text/html"
    g.frame_shop = shop  # this page must run inside that shop's admin iframe (app/security.py)
    return response


def _exchange_code(shop: str, code: str):
    """POST the code to the shop's token endpoint (shopifyapp has no authorization-code helper)."""
    config = settings()
    try:
        with shopify_http_client(config) as http:
            response = http.post(
                f"https://{shop}/admin/oauth/access_token",
                json={
                    "client_id": config.api_key,
                    "client_secret": config.api_secret,
                    "code": code,
                    "expiring": "1",
                },
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError:
        log.warning("code exchange for %s failed: network", shop)
        abort(503, "Shopify could not be reached. Please try again.")
    if response.status_code != 200:
        log.warning("code exchange for %s refused: HTTP %s", shop, response.status_code)
        abort(400, "Shopify refused the authorization code. Please install again.")
    try:
        return TokenGrant.from_response(response.json())
    except (ValueError, KeyError, TypeError):
        abort(502, "Shopify answered the code exchange with something unexpected.")


def _admin_app_url(shop: str, host: str) -> str:
    """The embedded app inside the shop's admin, where token exchange takes over."""
    config = settings()
    store = shop.removesuffix(".myshopify.com")
    handle = app_handle()
    if config.admin_origin:
        return f"{config.admin_origin}/store/{store}/apps/{handle}"
    try:
        decoded = base64.b64decode(host + "=" * (-len(host) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded != f"admin.shopify.com/store/{store}":  # only ever redirect to the shop's own admin
        decoded = f"admin.shopify.com/store/{store}"
    return f"https://{decoded}/apps/{handle}"


@cache
def _app_toml() -> dict:
    with APP_TOML.open("rb") as fh:
        return tomllib.load(fh)


def toml_scopes() -> tuple[str, ...]:
    """The scopes of shopify.app.toml (the managed-install list); the code grant asks for the same."""
    raw = _app_toml().get("access_scopes", {}).get("scopes", "")
    return tuple(sorted(s.strip() for s in raw.split(",") if s.strip()))


def app_handle() -> str:
    """The app's handle in admin URLs (`/store/{store}/apps/{handle}`)."""
    return str(_app_toml().get("handle") or "tsunagu")
