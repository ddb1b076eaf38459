"""App home: members, omni share, spend by channel mix, LTV by rank, points outstanding, sync health.

The page reads the stored summary only; recomputing it is queued for the worker and the page polls.
"""

from __future__ import annotations

from flask import g, jsonify, render_template, request

from app.admin import bp
from app.admin.charts import Series, hbar_chart, share_bar, stacked_columns
from app.admin.forms import done
from app.dashboard import jobs as dashboard_jobs
from app.dashboard import summary as dashboard
from app.extensions import db
from app.i18n import current_locale, format_int, format_money, format_month, t, translate_or
from app.install.embedded import embedded_page, session_fetch
from app.shops.installs import features_missing_scopes


@bp.get("/")
@embedded_page
def home():
    """The embedded app home (GET /)."""
    shop = g.shop
    view = dashboard.home(db.session, shop)
    return render_template(
        "admin/home.html",
        page_title=t("home.title"),
        shop=shop,
        view=view,
        charts=_charts(view),
        status=dashboard_jobs.summary_status(db.session, shop),
        scopes=sorted(shop.scopes),
        missing=features_missing_scopes(shop),
    )


def _charts(view: dashboard.HomeView) -> dict[str, object]:
    """The home page's SVG charts, labelled in the user's language."""
    from datetime import date

    months = [format_month(date(int(m[:4]), int(m[5:]), 1)) for m in view.months]
    short = [_short_month(m) for m in view.months]
    spend = stacked_columns(
        t("home.chart_spend_title"),
        short,
        [
            Series(t("channel_group.online"), view.spend_by_channel["online"], "ts-fill-online"),
            Series(t("channel_group.store"), view.spend_by_channel["store"], "ts-fill-store"),
            Series(t("channel_group.other"), view.spend_by_channel["other"], "ts-fill-other"),
        ],
        value_label=view.currency,
    )
    mix = share_bar(
        t("home.chart_mix_title"),
        [
            (t("mix.omni"), view.spend_by_mix["omni"], "ts-fill-omni"),
            (t("mix.store_only"), view.spend_by_mix["store_only"], "ts-fill-store"),
            (t("mix.online_only"), view.spend_by_mix["online_only"], "ts-fill-online"),
        ],
    )
    ltv = hbar_chart(
        t("home.chart_ltv_title"),
        [(rank_label(r.handle), r.ltv, format_money(r.ltv, view.currency)) for r in view.ranks],
    )
    ranks = hbar_chart(
        t("home.chart_ranks_title"),
        [(rank_label(r.handle), r.members, format_int(r.members)) for r in view.ranks],
    )
    return {"spend": spend, "mix": mix, "ltv": ltv, "ranks": ranks, "month_labels": months}


def rank_label(handle: str) -> str:
    """A rank's display name: the translation of a default handle, else the merchant's own handle."""
    return translate_or(f"rank.{handle}", handle)


def _short_month(key: str) -> str:
    """Axis label of a "YYYY-MM" month: 11月 / Nov."""
    from datetime import date

    month = date(int(key[:4]), int(key[5:]), 1)
    return f"{month.month}月" if current_locale() == "ja" else f"{month:%b}"


@bp.post("/summary/refresh")
@session_fetch
def refresh_summary():
    """Queue a recomputation of the home's figures for the worker; answers at once with a status the page
    polls (the computation reads every purchase of the shop: never inside a request)."""
    dashboard_jobs.enqueue(db.session, g.shop, dashboard_jobs.SUMMARY)
    db.session.commit()
    state = dashboard_jobs.summary_status(db.session, g.shop)
    html = render_template("admin/_summary_status.html", status=state, shop=g.shop, poll=True)
    return done(t("home.refresh_queued"), html=html)


@bp.get("/summary/status")
@session_fetch
def summary_status():
    """What the home page polls: the importing / recomputing line, and whether to reload for new figures."""
    state = dashboard_jobs.summary_status(db.session, g.shop)
    reload = state.changed_since(request.args.get("since", ""))
    html = render_template("admin/_summary_status.html", status=state, shop=g.shop, poll=False)
    return jsonify(html=html, finished=reload or not state.busy, reload=reload, job=state.job_json())


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
