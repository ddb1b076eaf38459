"""Reports: month-end closes with their adjustments, why a month is not closed yet, the running month, CSV."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Response, abort, g, render_template, request
from sqlalchemy import select

from app.admin import bp
from app.admin.forms import Form, done, invalid, refused
from app.dashboard import reports as month_end
from app.dashboard.close_csv import close_csv
from app.extensions import db
from app.i18n import format_int, t
from app.install.embedded import embedded_page, session_fetch
from app.models.dashboard import MonthEndClose
from app.shops.rules import load_rules


def hold_text(hold: month_end.Hold) -> str:
    """A reason the month waits, in the staff's language."""
    params = dict(hold.params)
    if "kind" in params:
        params["kind"] = t(f"backfill.kind.{params['kind']}")
    for name in ("count", "done", "total"):
        if name in params:
            params[name] = format_int(params[name])
    return t(f"reports.hold.{hold.code}", **params)


@bp.get("/reports")
@embedded_page
def reports():
    """Closed months (original, adjustments, current), what the due month waits for, the running month."""
    shop = g.shop
    now = datetime.now(ZoneInfo(shop.timezone))
    waiting = month_end.waiting_holds(db.session, shop, now)
    return render_template(
        "admin/reports.html",
        page_title=t("reports.title"),
        shop=shop,
        months=month_end.closed_months(db.session, shop),
        waiting=(waiting[0], [hold_text(h) for h in waiting[1]]) if waiting else None,
        running=month_end.points_report(db.session, shop, now.date().replace(day=1)),
        columns=month_end.COLUMNS,
        due=f"{month_end.due_period(shop, now):%Y-%m}",
        tiers=[tier.handle for tier in load_rules(shop).ranks.tiers],
    )


def _period(form: Form) -> date | None:
    raw = form.text("period", max_length=7)
    if raw:
        try:
            return month_end.parse_period(raw)
        except month_end.ReportError:
            form.error("period", "reports.period_format")
    return None


def _not_ready(period: date, exc: month_end.NotReady) -> tuple[Response, int]:
    """409 saying why the month's data is not complete yet (the page shows it under the form)."""
    reasons = " ".join(hold_text(h) for h in exc.holds)
    return refused(t("reports.not_ready", period=f"{period:%Y-%m}", reasons=reasons))


@bp.post("/reports/close")
@session_fetch
def close():
    """Close a past month now (the schedule does this on the 1st, once the month's data is complete)."""
    form = Form(request.form)
    period = _period(form)
    if not form.ok or period is None:
        return invalid(form)
    try:
        month_end.close_month(db.session, g.shop, period, trigger="staff")
    except month_end.NotReady as exc:  # raised by the checks, before anything is written
        return _not_ready(period, exc)
    except month_end.ReportError as exc:
        key = "reports.already_closed" if isinstance(exc, month_end.AlreadyClosed) else "reports.not_over"
        form.error("period", key)
        return invalid(form)
    db.session.commit()
    return done(t("reports.closed", period=f"{period:%Y-%m}"), reload=True)


@bp.post("/reports/recheck")
@session_fetch
def recheck():
    """Compute a closed month again now; late data is recorded as an adjustment, never as an edit."""
    form = Form(request.form)
    period = _period(form)
    if not form.ok or period is None:
        return invalid(form)
    key = f"{period:%Y-%m}"
    try:
        row = month_end.recheck_month(db.session, g.shop, period, trigger="staff")
    except month_end.NotReady as exc:
        return _not_ready(period, exc)
    except month_end.NotClosed:
        form.error("period", "reports.not_closed")
        return invalid(form)
    if row is None:
        return done(t("reports.recheck_unchanged", period=key))
    db.session.commit()
    return done(t("reports.recheck_recorded", period=key, sequence=row.sequence), reload=True)


@bp.get("/reports/<period>.csv")
@session_fetch
def download(period: str):
    """A closed month as CSV: the close as made, then each adjustment, its difference, the current figures."""
    row = db.session.scalar(
        select(MonthEndClose).where(MonthEndClose.shop_id == g.shop.id, MonthEndClose.period == period)
    )
    if row is None:
        abort(404)
    text = close_csv(row, month_end.adjustments_of(db.session, g.shop.id, period), g.shop.timezone)
    filename = f"tsunagu-points-{period}.csv"
    # A BOM so Excel (common for month-end work in Japan) opens the UTF-8 file correctly.
    return Response(
        "\ufeff" + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
