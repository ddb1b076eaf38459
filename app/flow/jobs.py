"""The worker's Flow job: watch members and campaign awards for events, announce expiring points, drain the
trigger outbox."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.flow.outbox import drain
from app.flow.rewards import notice_awards
from app.flow.watch import notice_expiring, watch_changes
from app.models.integrations import FlowTrigger, FlowTriggerStatus
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer

log = logging.getLogger(__name__)


def run_flow_jobs(now: datetime | None = None) -> None:
    """Every installed shop, each on its own: one shop's failure is logged and the others still run."""
    session = db.session
    days = current_app.config["SETTINGS"].flow_expiry_notice_days
    shops = session.scalars(select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)).all()
    for shop in shops:
        try:
            flow_tick(shop, now or utcnow(), days)
        except Exception as exc:
            session.rollback()
            log.error("flow job for shop=%s failed: %s", shop.domain, type(exc).__name__)


def flow_tick(shop: Shop, now: datetime, days: int) -> dict[str, int]:
    """One shop: queue what changed, then send what is due (the Admin API only when something is)."""
    session = db.session
    watch_changes(session, shop, now)
    notice_awards(session, shop, now)
    if days > 0:
        notice_expiring(session, shop, now, days)
    pending = session.scalar(
        select(FlowTrigger.id)
        .where(
            FlowTrigger.shop_id == shop.id,
            FlowTrigger.status == FlowTriggerStatus.PENDING,
            FlowTrigger.next_attempt_at <= now,
        )
        .limit(1)
    )
    if pending is None:
        return {}
    counts = drain(session, shop, AdminClient(shop, session=session), CostPacer.for_plan(shop.plan), now)
    if any(counts.values()):
        log.info("flow triggers for shop=%s: %s", shop.domain, counts)
    return counts
