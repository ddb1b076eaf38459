"""Analytics: F2 conversion, repeat rate and frequency, cohort retention, the RFM grid, LTV by channel mix,
campaigns against their holdout.

The page reads the stored snapshot only; the worker computes it (app/analytics/snapshot.py).
"""

from __future__ import annotations

from flask import Response, abort, g, render_template, request

from app.admin import bp
from app.admin.charts import hbar_chart
from app.admin.forms import done
from app.analytics import snapshot as analytics
from app.analytics.export import TABLES, to_csv
from app.analytics.view import ALL, CHANNELS, AnalyticsView, analytics_view
from app.extensions import db
from app.i18n import format_int, format_money, format_percent, t
from app.install.embedded import embedded_page, session_fetch


@bp.get("/analytics")
@embedded_page
def analytics_page():
    """The analytics page (GET /analytics); `channel` picks the cohort table's first channel."""
    view = analytics_view(db.session, g.shop, request.args.get("channel", ALL))
    return render_template(
        "admin/analytics.html",
        page_title=t("analytics.title"),
        shop=g.shop,
        view=view,
        charts=_charts(view, g.shop.currency),
        channels=(ALL, *CHANNELS),
        tables=TABLES,
    )


def _charts(view: AnalyticsView, currency: str) -> dict[str, object]:
    last = len(view.windows) - 1
    f2 = hbar_chart(
        t("analytics.f2_chart", days=view.windows[last]),
        [(_channel(r.channel), (r.rates[last] or 0) * 100, format_percent(r.rates[last])) for r in view.f2],
        label_width=150,
    )
    frequency = hbar_chart(
        t("analytics.frequency_title"),
        [(t("analytics.purchases_n", n=b.label), n, format_int(n)) for b, n in view.frequency],
        label_width=150,
    )
    ltv = hbar_chart(
        t("analytics.ltv_title"),
        [(t(f"mix.{r.mix}"), r.average, format_money(r.average, currency)) for r in view.ltv],
        label_width=150,
    )
    return {"f2": f2, "frequency": frequency, "ltv": ltv, "campaigns": _campaign_chart(view, currency)}


def _campaign_chart(view: AnalyticsView, currency: str) -> object:
    """Mean sales per member, treated next to holdout, of the campaigns with enough members in both groups."""
    rows = [
        (
            f"{e.name[:14]} · {t(f'analytics.campaign_{side}')}",
            group.mean or 0,
            format_money(group.mean, currency),
        )
        for e in view.campaigns
        if e.enough
        for side, group in (("treated", e.treated), ("holdout", e.holdout))
    ]
    return hbar_chart(t("analytics.campaign_chart"), rows, label_width=190) if rows else None


def _channel(channel: str) -> str:
    return t("analytics.all_channels") if channel == ALL else t(f"channel.{channel}")


@bp.post("/analytics/refresh")
@session_fetch
def analytics_refresh():
    """Ask the worker for new figures; the computation reads every purchase, so never in a request."""
    analytics.request_refresh(db.session, g.shop)
    db.session.commit()
    return done(t("analytics.refresh_queued"))


@bp.get("/analytics/<table>.csv")
@session_fetch
def analytics_csv(table: str):
    """One of the page's tables as CSV (a BOM first, so Excel opens the UTF-8 file correctly)."""
    if table not in TABLES:
        abort(404)
    view = analytics_view(db.session, g.shop, request.args.get("channel", ALL))
    return Response(
        "\ufeff" + to_csv(view, table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="tsunagu-{table}.csv"'},
    )
