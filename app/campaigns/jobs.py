"""The worker's reward-code job: create claimed codes in Shopify, deliver them, settle used and ended ones.

It runs every worker round (app/dispatch.py SCHEDULED_JOBS), so a code granted by a member's rebuild is
created and sent within a round. A shop without `write_discounts` keeps its awards waiting, unclaimed,
until the merchant grants it (the dashboard lists the missing scope).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import codes
from app.campaigns.delivery import deliver
from app.extensions import db
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow
from app.shopify.client import AdminClient
from app.shopify.errors import ShopifyError
from app.shopify.pacing import CostPacer
from app.shops.installs import missing_scopes_for

log = logging.getLogger(__name__)


def run_reward_code_jobs(now: datetime | None = None) -> None:
    """Every installed shop, each on its own: one shop's failure is logged and the others still run."""
    session = db.session
    shops = session.scalars(select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)).all()
    for shop in shops:
        try:
            issue_reward_codes(session, shop, now or utcnow())
        except Exception as exc:
            session.rollback()
            log.error("reward code job for shop=%s failed: %s", shop.domain, type(exc).__name__)


def issue_reward_codes(
    session: Session, shop: Shop, now: datetime, client: object | None = None, pacer: CostPacer | None = None
) -> dict[str, int]:
    """One shop: claim due code awards, create each in Shopify, deliver the new ones, settle the old."""
    counts = {"active": 0, "failed": 0, "retry": 0}
    if missing_scopes_for(shop, "reward_codes"):
        return counts
    claimed = codes.claim(session, shop, now)
    client = client or AdminClient(shop, session=session)
    pacer = pacer or CostPacer.for_plan(shop.plan)
    for award_id in claimed:
        try:
            outcome = codes.create(session, client, pacer, award_id, now)
        except ShopifyError as exc:  # the look-up after TAKEN did not answer: tried again next round
            session.rollback()
            log.warning("reward code %s not settled: %s", award_id, type(exc).__name__)
            outcome = None
        if outcome == codes.CodeStatus.ACTIVE:
            deliver(session, shop, award_id, now)
        counts[str(outcome) if outcome else "retry"] += 1
    settled = codes.settle(session, shop, now)
    if any(counts.values()) or any(settled.values()):
        log.info("reward codes for shop=%s: %s %s", shop.domain, counts, settled)
    return counts
