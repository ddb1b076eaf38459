"""Smaregi's authorisation callback, and the Redirect URI registered for it.

The callback is reached top-level from Smaregi's sign-in page with no session token; its signed single-use
`state` names the shop (app/integrations/smaregi/authorize.py). The settings page that starts it is an admin
page (app/admin/smaregi.py).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, redirect, request

from app.extensions import db
from app.i18n import translate as t
from app.integrations.smaregi import connection as conn
from app.integrations.smaregi.authorize import (
    AuthorizeError,
    app_credentials,
    connect_contract,
    consume_state,
    contract_from_code,
)
from app.integrations.smaregi.client import SmaregiError
from app.models.shop import Shop

log = logging.getLogger(__name__)
CALLBACK_PATH = "/integrations/smaregi/oauth/callback"


def _settings():
    return current_app.config["SETTINGS"]


def redirect_uri() -> str:
    """The Redirect URI registered with the app in the Smaregi developer console."""
    return _settings().app_url + CALLBACK_PATH


def callback() -> Any:
    """Smaregi sends the merchant back with `code` and `state`: check the state, store the contract."""
    settings = _settings()
    creds = app_credentials(settings)
    if creds is None:
        return _plain(t("smaregi.not_configured"), 404)  # no Smaregi app here: there is no such callback
    try:
        shop_id = consume_state(db.session, request.args.get("state", ""), settings.secret_key)
        db.session.commit()  # spent even if what follows fails: a state is good once
        shop = db.session.get(Shop, shop_id)
        if shop is None or not shop.is_installed:
            raise AuthorizeError("state names a shop that is not installed")
        code = request.args.get("code", "")
        if not code or len(code) > 512:
            raise AuthorizeError(f"no code ({request.args.get('error', 'none')[:64]})")
        contract_id = contract_from_code(creds, code, redirect_uri())
        row = connect_contract(db.session, shop, contract_id, creds)
        try:
            conn.refresh_stores(db.session, shop, row)
        except SmaregiError as exc:  # the contract is stored; stores can be read again from the page
            log.warning("smaregi store list after connect for shop=%s failed: %s", shop.domain, exc)
        db.session.commit()
    except (AuthorizeError, conn.ConnectionError_) as exc:
        db.session.rollback()
        log.info("smaregi authorisation refused: %s", exc)
        return _plain(t("smaregi.callback_refused"), 400)
    log.info("smaregi contract %s connected for shop=%s", contract_id, shop.domain)
    return redirect(_admin_page(shop.domain), 302)


def _admin_page(domain: str) -> str:
    """The settings page inside the shop's admin (App Bridge loads /settings/smaregi in the frame)."""
    settings = _settings()
    store = domain.removesuffix(".myshopify.com")
    origin = settings.admin_origin or "https://admin.shopify.com"
    return f"{origin}/store/{store}/apps/{settings.api_key}/settings/smaregi"


def _plain(body: str, status: int):
    response = current_app.make_response((body, status))
    response.mimetype = "text/plain"
    return response
