"""The embedded admin (app home and dashboard pages) served inside the Shopify admin iframe, and its links.

Links between dashboard pages carry the admin's launch parameters and the locale."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, has_request_context, request, url_for

from app.i18n import current_locale, init_i18n

bp = Blueprint("admin", __name__)

# Not secrets: what Shopify appends to every app load. The id_token is added by static/admin.js at click
# time (a fresh one); without it the page goes through the patch-id-token bounce, which needs shop and host.
CARRIED = ("shop", "host", "embedded")

NAV = (
    ("admin.home", "nav.home"),
    ("admin.members", "nav.members"),
    ("admin.segments", "nav.segments"),
    ("admin.rules", "nav.rules"),
    ("admin.campaigns", "nav.campaigns"),
    ("admin.history_settings", "nav.history"),
    ("admin.sync_health", "nav.sync"),
    ("admin.backfill", "nav.backfill"),
    ("admin.analytics_page", "nav.analytics"),
    ("admin.reports", "nav.reports"),
    ("admin.data_exports", "nav.data_exports"),
    ("admin.smaregi_settings", "nav.smaregi"),
)


def admin_url(endpoint: str, locale: str | None = None, **values: Any) -> str:
    """url_for with the launch parameters of the current page and the locale."""
    carried = {k: request.args[k] for k in CARRIED if request.args.get(k)}
    carried["locale"] = locale or current_locale()
    return url_for(endpoint, **{**carried, **values})


def nav_context() -> dict[str, Any]:
    """The navigation entries for templates/admin/layout.html."""
    return {"nav_items": NAV, "admin_url": admin_url}


@bp.record_once
def _setup(state) -> None:
    """Translations and formatters for every template once the blueprint is registered."""
    init_i18n(state.app)


@bp.app_context_processor
def layout_context() -> dict[str, object]:
    """What templates/base.html needs: App Bridge settings, Polaris, the page language."""
    settings = current_app.config["SETTINGS"]
    return {
        "shopify_api_key": settings.api_key,
        "app_bridge_url": settings.app_bridge_url,
        "polaris_url": settings.polaris_url,
        "html_lang": current_locale() if has_request_context() else "en",
        **(nav_context() if has_request_context() else {}),
    }


# Each module registers its routes on bp.
from app.admin import (  # noqa: E402, F401
    analytics,
    campaigns,
    data_exports,
    history,
    members,
    reports,
    reviews,
    rules,
    segments,
    smaregi,
    sync_health,
    views,
)
