"""`campaign-reward-issued`: one Flow trigger per granted campaign award, once its reward exists.

A points award is announced as soon as it is granted; a code award once its code is active in Shopify (the
payload carries the code, so a workflow can send it). The dedupe key `award:<id>` makes it once per award,
however many passes see it. Only awards changed within WINDOW are looked at, so a pass stays small and
enabling Flow sends no old backlog.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, cast, literal, or_, select
from sqlalchemy.orm import Session

from app.campaigns.codes import CodeStatus
from app.flow import catalog
from app.flow.outbox import enqueue
from app.models.integrations import FlowTrigger
from app.models.member import Member, MemberStatus
from app.models.rewards import AwardStatus, Campaign, CampaignAward
from app.models.shop import Shop

WINDOW = timedelta(days=3)
BATCH = 500


def dedupe_key(award_id: int) -> str:
    return f"award:{award_id}"


def notice_awards(session: Session, shop: Shop, now: datetime) -> int:
    """Queue the trigger for every newly granted award of the shop; how many were queued."""
    announced = select(FlowTrigger.id).where(
        FlowTrigger.shop_id == shop.id,
        FlowTrigger.dedupe_key == literal("award:") + cast(CampaignAward.id, String),
    )
    rows = session.execute(
        select(CampaignAward, Campaign.name, Member)
        .join(Campaign, Campaign.id == CampaignAward.campaign_id)
        .join(Member, Member.id == CampaignAward.member_id)
        .where(
            CampaignAward.shop_id == shop.id,
            CampaignAward.status == AwardStatus.GRANTED,
            CampaignAward.updated_at >= now - WINDOW,
            or_(Campaign.reward == "points", CampaignAward.code_status == CodeStatus.ACTIVE),
            Member.status == MemberStatus.ACTIVE,
            Member.shopify_customer_id.is_not(None),
            ~announced.exists(),
        )
        .order_by(CampaignAward.id)
        .limit(BATCH)
    ).all()
    queued = 0
    for award, name, member in rows:
        payload = catalog.campaign_reward_issued(
            str(member.shopify_customer_id), name, award.points, award.code
        )
        enqueue(session, shop, member, catalog.CAMPAIGN_REWARD_ISSUED, payload, dedupe_key(award.id), now)
        queued += 1
    session.commit()
    return queued
