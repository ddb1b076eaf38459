"""Time-driven upkeep per member: pending points mature, lots expire, rolling ranks move as sales age out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.member import Member
from app.models.shop import Shop
from app.models.types import utcnow
from app.services import ledger
from app.services.members import lock_member, touch
from app.services.ranks import evaluate_member
from app.services.shop_rules import load_rules


def refresh_member(session: Session, shop: Shop, member_id: int, now: datetime | None = None) -> bool:
    """Mature, expire and re-evaluate one member at `now`; True if anything changed (then marked for sync)."""
    now = now or utcnow()
    rules = load_rules(shop)
    member = lock_member(session, member_id)
    if member.status != "active":
        return False
    changed = ledger.mature_due(session, member, now)
    changed = ledger.expire_due(session, member, rules.points, now) or changed
    changed = evaluate_member(session, shop, member, now, rules) or changed
    if changed:
        touch(member, now)
    session.flush()
    return changed


def refresh_shop(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """The daily job for one shop: refresh every active member; returns how many changed."""
    now = now or utcnow()
    ids = list(session.scalars(select(Member.id).where(Member.shop_id == shop.id, Member.status == "active")))
    return sum(1 for member_id in ids if refresh_member(session, shop, member_id, now))
