"""The Smaregi settings page (/settings/smaregi): connection status, Connect/Disconnect, the store map and
what syncs. Admin routes like every other page: App Bridge session token, `g.shop` from the token. The
authorisation callback Smaregi sends the merchant back to is in app/integrations/smaregi/settings_page.py.
"""

from __future__ import annotations

import logging

from flask import current_app, g, jsonify, render_template, request
from markupsafe import escape

from app.admin import bp
from app.extensions import db
from app.i18n import translate as t
from app.install.embedded import embedded_page, session_fetch
from app.integrations.smaregi import connection as conn
from app.integrations.smaregi.authorize import app_credentials, authorize_url, issue_state
from app.integrations.smaregi.client import SmaregiError
from app.integrations.smaregi.push import last_pushed_at
from app.integrations.smaregi.settings_page import redirect_uri
from app.models.integrations import SmaregiConnection

log = logging.getLogger(__name__)


def _settings():
    return current_app.config["SETTINGS"]


@bp.get("/settings/smaregi")
@embedded_page
def smaregi_settings():
    """Connection status, Connect/Disconnect, the store map and what syncs."""
    shop = g.shop
    row = db.session.get(SmaregiConnection, shop.id)
    return render_template(
        "admin/smaregi_settings.html",
        page_title=t("smaregi.title"),
        shop=shop,
        connection=row,
        can_connect=app_credentials(_settings()) is not None,
        last_push=last_pushed_at(db.session, shop) if row else None,
        stores=conn.stores(db.session, shop),
        toggles=conn.TOGGLES,
        active_nav="admin.smaregi_settings",
    )


def _fail(message: str, status: int = 409, errors: dict[str, str] | None = None):
    return jsonify(ok=False, message=message, errors=errors or {}), status


@bp.post("/settings/smaregi")
@session_fetch
def save_smaregi_settings():
    """The toggles and the store names; every name is checked before anything is saved."""
    shop = g.shop
    row = db.session.get(SmaregiConnection, shop.id)
    if row is None:
        return _fail(t("smaregi.not_connected"))
    known = {s.store_id for s in conn.stores(db.session, shop)}
    names: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key, value in request.form.items():
        if not key.startswith("store_name."):
            continue
        store_id, name = key.removeprefix("store_name."), value.strip()
        if store_id not in known:
            errors[key] = t("smaregi.store_unknown")
        elif not name or len(name) > conn.STORE_NAME_MAX or not name.isprintable():
            errors[key] = t("smaregi.store_name_invalid", max=conn.STORE_NAME_MAX)
        else:
            names[store_id] = name
    if errors:
        return _fail(t("form.fix_errors"), 422, errors)
    choices = conn.SyncChoices(**{name: request.form.get(name) == "on" for name in conn.TOGGLES})
    conn.save_choices(row, choices)
    conn.rename_stores(db.session, shop, names)
    db.session.commit()
    return jsonify(ok=True, message=t("smaregi.saved"), errors={})


@bp.post("/settings/smaregi/connect")
@session_fetch
def connect_smaregi():
    """A fresh state and the link to Smaregi's authorisation page (opened top-level by the merchant)."""
    creds = app_credentials(_settings())
    if creds is None:
        return _fail(t("smaregi.not_configured"))
    state = issue_state(db.session, g.shop, _settings().secret_key)
    db.session.commit()
    url = authorize_url(creds, state, redirect_uri())
    html = (
        f'<p><a class="ts-button ts-primary" data-smaregi-authorize href="{escape(url)}" target="_top">'
        f"{escape(t('smaregi.continue'))}</a></p>"
    )
    return jsonify(ok=True, message=t("smaregi.continue_help"), html=html, authorize_url=url)


@bp.post("/settings/smaregi/disconnect")
@session_fetch
def disconnect_smaregi():
    """Forget the contract (the app itself is cancelled in Smaregi's app market)."""
    removed = conn.disconnect(db.session, g.shop)
    db.session.commit()
    return jsonify(
        ok=True, message=t("smaregi.disconnected" if removed else "smaregi.not_connected"), reload=True
    )


@bp.post("/settings/smaregi/stores")
@session_fetch
def refresh_smaregi_stores():
    """Read the contract's stores from Smaregi into the map."""
    row = db.session.get(SmaregiConnection, g.shop.id)
    if row is None:
        return _fail(t("smaregi.not_connected"))
    try:
        added = conn.refresh_stores(db.session, g.shop, row)
    except SmaregiError as exc:
        db.session.rollback()
        log.warning("smaregi store list for shop=%s failed: %s", g.shop.domain, exc)
        return _fail(t("smaregi.stores_failed"), 502)
    db.session.commit()
    return jsonify(ok=True, message=t("smaregi.stores_refreshed", count=added), reload=True)
