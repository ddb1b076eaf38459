"""App home: who is installed, with which scopes, and what cannot run yet for lack of a scope."""

from __future__ import annotations

from flask import g, render_template

from app.admin import bp
from app.services.installs import features_missing_scopes
from app.shopify.auth import embedded_page


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
