"""The Shopify admin stand-in: frames the app like admin.shopify.com and serves an App Bridge stand-in."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from urllib.parse import urlencode, urlparse

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_file

from emulator.id_tokens import IdTokenMinter
from emulator.oauth import admin_host_param, load_app_toml, query_hmac

STATIC = Path(__file__).resolve().parent / "static"
LOCALES = ("ja", "en")
# Shopify admin staff user the stand-in acts as (the `sub` of its id_tokens).
ADMIN_USER_ID = 1


def app_home_url(
    app_url: str, shop: str, id_token: str, locale: str, subpath: str, now: float, secret: str
) -> str:
    """The URL the admin loads in the iframe: the app's page plus Shopify's signed launch parameters."""
    query = {
        "embedded": "1",
        "host": admin_host_param(shop),
        "id_token": id_token,
        "locale": locale,
        "session": secrets.token_hex(32),
        "shop": shop,
        "timestamp": str(int(now)),
    }
    query["hmac"] = query_hmac(query, secret)
    return f"{app_url.rstrip('/')}/{subpath.lstrip('/')}?{urlencode(sorted(query.items()))}"


def create_admin_blueprint(state, app_url: str, *, app_handle: str | None = None) -> Blueprint:
    """Routes /store/<store>/apps/<handle>[/<path>], /store/<store>/id_token and /app-bridge.js."""
    handle = app_handle or load_app_toml().get("handle", "tsunagu")
    app_title = load_app_toml().get("name", "Tsunagu")
    minter = IdTokenMinter(state.api_key, state.api_secret, clock=state.clock)
    app_origin = "{0.scheme}://{0.netloc}".format(urlparse(app_url))
    bp = Blueprint("emulator_admin", __name__, template_folder="templates")

    def shop_for(store: str, *, install: bool = False):
        domain = store if store.endswith(".myshopify.com") else f"{store}.myshopify.com"
        shop = state.shops.get(domain)
        if shop is None:
            abort(404)
        if not shop.installed and install:
            # Opening an app link after an uninstall reinstalls it (managed install), as on Shopify.
            shop = state.install_shop(domain)
        if not shop.installed:
            abort(404)
        return shop

    @bp.get("/store/<store>/apps/<app>", defaults={"subpath": ""})
    @bp.get("/store/<store>/apps/<app>/<path:subpath>")
    def app_page(store: str, app: str, subpath: str) -> str:
        if app != handle:
            abort(404)
        shop = shop_for(store, install=True)
        locale = request.args.get("locale", "ja")
        if locale not in LOCALES:
            locale = "ja"
        id_token = minter.mint(shop.domain, user_id=ADMIN_USER_ID)
        store_handle = shop.domain.removesuffix(".myshopify.com")
        return render_template(
            "emulator_admin_frame.html",
            shop=shop.domain,
            shop_name=shop.name,
            locale=locale,
            app_title=app_title,
            app_origin=app_origin,
            admin_base=f"/store/{store_handle}/apps/{handle}",
            token_url=f"/store/{store_handle}/id_token",
            app_src=app_home_url(
                app_url, shop.domain, id_token, locale, subpath, state.clock(), state.api_secret
            ),
        )

    @bp.get("/store/<store>/id_token")
    def fresh_id_token(store: str) -> Response | tuple[Response, int]:
        shop = shop_for(store)
        client_id = request.args.get("client_id", "")
        if not hmac.compare_digest(client_id, state.api_key):
            # Real App Bridge fails the same way when the meta api key names another app.
            return jsonify(error="client_id does not match the app installed on this shop"), 400
        response = jsonify(id_token=minter.mint(shop.domain, user_id=ADMIN_USER_ID))
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.get("/app-bridge.js")
    def app_bridge() -> Response:
        response = send_file(STATIC / "app-bridge.js", mimetype="text/javascript", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return bp
