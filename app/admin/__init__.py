"""The embedded admin (app home and dashboard pages) served inside the Shopify admin iframe."""

from __future__ import annotations

from flask import Blueprint, current_app, has_request_context

from app.admin.nav import nav_context
from app.i18n import current_locale, init_i18n

bp = Blueprint("admin", __name__)


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
