"""The embedded admin (app home and dashboard pages) served inside the Shopify admin iframe."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, request

bp = Blueprint("admin", __name__)

POLARIS_URL = "https://cdn.shopify.com/shopifycloud/polaris.js"
# The admin passes its locale on page loads (`ja`, `en-US`); anything else falls back to English.
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def admin_lang() -> str:
    """The `lang` attribute for the page, from the admin's `locale` parameter."""
    value = request.args.get("locale", "").strip().replace("_", "-")
    return value if _LANG.fullmatch(value) else "en"


@bp.app_context_processor
def layout_context() -> dict[str, object]:
    """What templates/base.html needs: App Bridge settings, Polaris, the page language."""
    settings = current_app.config["SETTINGS"]
    return {
        "shopify_api_key": settings.api_key,
        "app_bridge_url": settings.app_bridge_url,
        "polaris_url": current_app.config.get("POLARIS_URL", POLARIS_URL),
        "html_lang": admin_lang() if request else "en",
    }


from app.admin import views  # noqa: E402,F401  (registers the routes on bp)
