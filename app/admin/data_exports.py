"""Customer data exports: the list of what `customers/data_request` built, and their download."""

from __future__ import annotations

from flask import Response, abort, current_app, g, render_template

from app.admin import bp
from app.customers import exports
from app.extensions import db
from app.i18n import t
from app.install.embedded import embedded_page, session_fetch


@bp.get("/data-exports")
@embedded_page
def data_exports():
    """The shop's exports still downloadable, with when each expires."""
    settings = current_app.config["SETTINGS"]
    return render_template(
        "admin/data_exports.html",
        page_title=t("exports.title"),
        shop=g.shop,
        exports=exports.list_exports(db.session, settings, shop_id=g.shop.id),
        retention_days=settings.data_export_retention_days,
    )


@bp.get("/data-exports/<int:export_id>.json")
@session_fetch
def data_export_download(export_id: int):
    """One export as a JSON file (fetched by the page with the session token); this shop's only."""
    found = exports.download(
        db.session, current_app.config["SETTINGS"], export_id, shop_id=g.shop.id, by="dashboard"
    )
    if found is None:
        abort(404)
    db.session.commit()
    name, body = found
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
