"""Sync health (backlog, dead letters, freshness, API budget, reconciliation, webhooks) and backfill."""

from __future__ import annotations

from flask import abort, g, jsonify, render_template

from app.admin import bp
from app.admin.forms import done, refused
from app.dashboard import health as dashboard_health
from app.extensions import db
from app.i18n import t
from app.install.embedded import embedded_page, session_fetch
from app.models.inbox import InboxEvent, InboxStatus


@bp.get("/sync")
@embedded_page
def sync_health():
    """Everything between Shopify's webhooks and the metafields Shopify holds, for one shop."""
    shop = g.shop
    return render_template(
        "admin/sync.html",
        page_title=t("sync.title"),
        shop=shop,
        h=dashboard_health.sync_health(db.session, shop),
        dead=dashboard_health.dead_letters(db.session, shop),
        unsynced=dashboard_health.unsynced_members(db.session, shop),
    )


@bp.post("/sync/dead-letters/<int(max=9223372036854775807):row_id>/retry")  # BIGINT ids
@session_fetch
def retry_dead_letter(row_id: int):
    """Queue a dead-lettered delivery again (the ledger's idempotency keys make a replay safe)."""
    from app.jobs.inbox import ReplayRefused, replay

    row = db.session.get(InboxEvent, row_id)
    if row is None or row.shop_id != g.shop.id:
        abort(404)
    if row.status != InboxStatus.DEAD:
        return refused(t("sync.not_dead"))
    try:
        replay(db.session, row.id)
    except ReplayRefused:
        db.session.rollback()
        return refused(t("sync.replay_refused"))
    return done(t("sync.retried", topic=row.topic), reload=True)


@bp.post("/sync/check")
@session_fetch
def check_now():
    """Reconcile now: pull orders updated since the watermark and check the webhook subscriptions."""
    from app.shopify.errors import ShopifyError
    from app.sync.reconcile import reconcile_all

    try:
        results = list(reconcile_all(db.session, shop_domain=g.shop.domain))
    except ShopifyError:
        db.session.rollback()
        return refused(t("segments.shopify_unavailable"), 502)
    missing = sorted({topic for r in results for topic in r.webhooks_missing})
    if missing:
        return done(t("sync.check_missing", topics=", ".join(missing)), reload=True)
    return done(t("sync.check_ok"), reload=True)


@bp.get("/backfill")
@embedded_page
def backfill():
    """The install backfill: a progress bar per job (orders, customers) that updates without a reload."""
    shop = g.shop
    jobs = dashboard_health.backfill_progress(db.session, shop)
    return render_template("admin/backfill.html", page_title=t("backfill.title"), shop=shop, jobs=jobs)


@bp.get("/backfill/progress")
@session_fetch
def backfill_progress():
    """What the page polls: the progress fragment and whether every job has finished."""
    jobs = dashboard_health.backfill_progress(db.session, g.shop)
    html = render_template("admin/_backfill_jobs.html", jobs=jobs, shop=g.shop)
    finished = all(j.as_json()["finished"] for j in jobs)
    return jsonify(html=html, finished=finished, jobs=[j.as_json() for j in jobs])
