"""App home: who is installed, with which scopes, and what cannot run yet for lack of a scope."""

from __future__ import annotations

from flask import g, jsonify, render_template

from app.admin import bp
from app.services.installs import features_missing_scopes
from app.shopify.auth import embedded_page, session_fetch


@bp.get("/")
@embedded_page
def home():
    """The embedded app home (GET /)."""
    shop = g.shop
    return render_template(
        "admin/home.html",
        shop=shop,
        scopes=sorted(shop.scopes),
        missing=features_missing_scopes(shop),
    )


@bp.get("/api/shop")
@session_fetch
def shop_state():
    """The install state as JSON for the page's scripts (the same facts the home page shows)."""
    shop = g.shop
    return jsonify(
        domain=shop.domain,
        name=shop.name,
        status=shop.status,
        scopes=sorted(shop.scopes),
        missing_scopes={feature: sorted(s) for feature, s in features_missing_scopes(shop).items()},
    )
