"""Store-side jobs the worker loop runs between inbox batches: Smaregi balance push, member export and
reconciliation, LINE thank-yous. `flask store-tick --every 1` runs them as their own loop, which keeps the
register within a couple of seconds of the ledger (the worker's scheduled jobs run once a minute)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.integrations.line.schedule import schedule_from_purchases
from app.integrations.line.sender import send_due
from app.integrations.smaregi.client import SmaregiClient, SmaregiError
from app.integrations.smaregi.members_out import export_members, members_to_export
from app.integrations.smaregi.push import has_due, push_due
from app.integrations.smaregi.reconcile import reconcile_all
from app.models.integrations import LineConnection, SmaregiConnection
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)
RECONCILE_EVERY = timedelta(minutes=15)


def line_tick(now: datetime | None = None) -> Counter:
    """Queue thank-yous for new store purchases of every LINE-connected shop, then send what is due."""
    session = db.session
    shops = session.scalars(
        select(Shop)
        .join(LineConnection, LineConnection.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.INSTALLED)
    ).all()
    for shop in shops:
        schedule_from_purchases(session, shop, now)
        session.commit()
    return send_due(session, now)


def push_tick() -> dict[str, int]:
    """Export new online members and push every changed balance to Smaregi, shop by shop (committed per
    shop); a shop with nothing due costs two queries and no Smaregi call."""
    session = db.session
    pushed: dict[str, int] = {}
    rows = session.execute(
        select(Shop, SmaregiConnection)
        .join(SmaregiConnection, SmaregiConnection.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.INSTALLED, SmaregiConnection.push_enabled.is_(True))
    ).all()
    for shop, connection in rows:
        exporting = connection.export_members and bool(members_to_export(session, shop, 1))
        if not exporting and not has_due(session, shop):
            continue
        try:
            with SmaregiClient(connection) as client:
                if exporting:
                    export_members(session, shop, client)
                pushed[shop.domain] = push_due(session, shop, client)
            session.commit()
        except SmaregiError as exc:  # the token endpoint refused or is down: the next pass retries
            session.rollback()
            log.warning("smaregi push for shop=%s deferred: %s", shop.domain, exc)
    return pushed


def run_store_jobs(now: datetime | None = None) -> None:
    """The worker's periodic hook for the store side (safe to call every second)."""
    now = now or utcnow()
    push_tick()
    sent = line_tick(now)
    if sent:
        log.info("LINE outbox: %s", dict(sent))
    # Only shops whose watermark is older than the interval: a pass with nothing due costs one query.
    reconciled = reconcile_all(db.session, stale_before=now - RECONCILE_EVERY, now=now)
    if reconciled:
        log.info("smaregi reconcile: %s", reconciled)
