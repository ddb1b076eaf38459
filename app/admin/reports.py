"""Reports: month-end closes (scheduled), the running month to date, CSV downloads."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, abort, g, render_template, request
from sqlalchemy import select

from app.admin import bp
from app.admin.forms import Form, done, invalid
from app.dashboard import reports as month_end
from app.extensions import db
from app.i18n import t
from app.install.embedded import embedded_page, session_fetch
from app.models.dashboard import MonthEndClose
from app.shops.rules import load_rules


@bp.get("/reports")
@embedded_page
def reports():
    """Closed months with their CSV, the running month so far, and closing a past month by hand."""
    shop = g.shop
    closes = list(
        db.session.scalars(
            select(MonthEndClose)
            .where(MonthEndClose.shop_id == shop.id)
            .order_by(MonthEndClose.period.desc())
        )
    )
    local = datetime.now(ZoneInfo(shop.timezone)).date()
    running = month_end.points_report(db.session, shop, local.replace(day=1))
    return render_template(
        "admin/reports.html",
        page_title=t("reports.title"),
        shop=shop,
        closes=closes,
        running=running,
        columns=month_end.COLUMNS,
        due=f"{month_end.due_period(shop, datetime.now(ZoneInfo(shop.timezone))):%Y-%m}",
        tiers=[tier.handle for tier in load_rules(shop).ranks.tiers],
    )


@bp.post("/reports/close")
@session_fetch
def close():
    """Close a past month now (the schedule does this on the 1st; staff can do it earlier after a fix)."""
    form = Form(request.form)
    raw = form.text("period", max_length=7)
    period = None
    if raw:
        try:
            period = month_end.parse_period(raw)
        except month_end.ReportError:
            form.error("period", "reports.period_format")
    if not form.ok or period is None:
        return invalid(form)
    try:
        month_end.close_month(db.session, g.shop, period, trigger="staff")
    except month_end.ReportError as exc:  # raised by the checks, before anything is written
        key = "reports.already_closed" if isinstance(exc, month_end.AlreadyClosed) else "reports.not_over"
        form.error("period", key)
        return invalid(form)
    db.session.commit()
    return done(t("reports.closed", period=raw), reload=True)


@bp.get("/reports/<period>.csv")
@session_fetch
def download(period: str):
    """The frozen CSV of a closed month (fetched by the page with the session token)."""
    row = db.session.scalar(
        select(MonthEndClose).where(MonthEndClose.shop_id == g.shop.id, MonthEndClose.period == period)
    )
    if row is None:
        abort(404)
    filename = f"tsunagu-points-{period}.csv"
    # A BOM so Excel (common for month-end work in Japan) opens the UTF-8 file correctly.
    return Response(
        "\ufeff" + row.csv,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
