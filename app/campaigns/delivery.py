"""Delivering a new reward code: a LINE message when the member is linked and has not opted out.

The card page lists the member's open codes (app/proxy/card.py) and the member's customer tag
`<prefix>reward` marks holders for tools that read only tags (app/members/projection.py); the Flow trigger
`campaign-reward-issued` is queued by the Flow job (app/flow/rewards.py). The LINE message is sent at the
shop's usual local send time, like the thank-you, and the sender checks the opt-out again before sending.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.line.schedule import insert_once, send_time
from app.models.integrations import LineConnection, LineLink, MessageStatus
from app.models.member import Member
from app.models.rewards import CampaignAward
from app.models.shop import Shop

KIND = "reward_code"


def deliver(session: Session, shop: Shop, award_id: int, now: datetime) -> bool:
    """Queue the LINE message for a code that just became active; True if one was queued."""
    award = session.get(CampaignAward, award_id)
    member = session.get(Member, award.member_id) if award is not None else None
    connection = session.get(LineConnection, shop.id)
    if award is None or member is None or not member.shopify_customer_id or connection is None:
        return False
    customer = str(member.shopify_customer_id)
    link = session.scalar(
        select(LineLink).where(LineLink.shop_id == shop.id, LineLink.shopify_customer_id == customer)
    )
    if link is None or link.opted_out_at is not None:
        return False
    # One message per member and local day: it lists every code of that day (the sender fills them in).
    day, due = send_time(now, shop.timezone or "Asia/Tokyo", connection.send_at_local)
    queued = insert_once(
        session,
        {
            "shop_id": shop.id,
            "shopify_customer_id": customer,
            "kind": KIND,
            "visit_date": day,
            "source_ref": f"award:{award.id}",
            "store_name": shop.name or None,
            "status": MessageStatus.SCHEDULED,
            "scheduled_for": due,
            "next_attempt_at": due,
            "attempts": 0,
            "retry_key": str(uuid.uuid4()),
            "created_at": now,
        },
    )
    session.commit()
    return queued
