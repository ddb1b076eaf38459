"""Store-side jobs the worker loop runs between inbox batches: Smaregi reconciliation, LINE thank-yous."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.integrations.line.schedule import schedule_from_purchases
from app.integrations.line.sender import send_due
from app.integrations.smaregi.reconcile import reconcile_all
from app.models.integrations import LineConnection
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


def run_store_jobs(now: datetime | None = None) -> None:
    """The worker's periodic hook for the store side (safe to call every few seconds)."""
    now = now or utcnow()
    sent = line_tick(now)
    if sent:
        log.info("LINE outbox: %s", dict(sent))
    # Only shops whose watermark is older than the interval: a pass with nothing due costs one query.
    reconciled = reconcile_all(db.session, stale_before=now - RECONCILE_EVERY, now=now)
    if reconciled:
        log.info("smaregi reconcile: %s", reconciled)
