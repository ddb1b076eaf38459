"""Links between dashboard pages: the admin's launch parameters and the locale travel with every link."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from app.i18n import current_locale

# Not secrets: what Shopify appends to every app load. The id_token is added by static/admin.js at click
# time (a fresh one); without it the page goes through the patch-id-token bounce, which needs shop and host.
CARRIED = ("shop", "host", "embedded")

NAV = (
    ("admin.home", "nav.home"),
    ("admin.members", "nav.members"),
    ("admin.segments", "nav.segments"),
    ("admin.rules", "nav.rules"),
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
