"""One member as staff see it: balances, metafields, reviews, merge suggestions, and a timeline page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.dashboard import timeline
from app.dashboard.timeline import TimelinePage
from app.domain.history import HistoryAggregates, aggregate
from app.domain.projection import MetafieldValue
from app.members.projection import project
from app.members.records import member_facts
from app.models.member import IdentityReview, Member, MemberStatus, ReviewStatus
from app.models.rewards import Redemption
from app.models.shop import Shop
from app.models.sync_state import MemberSyncState
from app.models.types import utcnow


@dataclass
class MemberDetail:
    """Everything the member page shows."""

    member: Member
    aggregates: HistoryAggregates
    timeline: TimelinePage
    metafields: dict[str, MetafieldValue]
    synced_values: dict[str, str]
    synced_at: datetime | None
    reviews: list[IdentityReview]
    review_candidates: dict[int, Member]
    duplicates: list[Member]  # other members with the same phone or email hash: merge suggestions
    rewards: list[Redemption] = field(default_factory=list)


def member_for_shop(session: Session, shop: Shop, member_id: int) -> Member | None:
    """The member if it belongs to `shop` (None otherwise: another shop's id reads as not found)."""
    member = session.get(Member, member_id)
    return member if member is not None and member.shop_id == shop.id else None


def detail(
    session: Session,
    shop: Shop,
    member: Member,
    now: datetime | None = None,
    *,
    period: str = timeline.RECENT,
    before: timeline.Key | None = None,
    after: timeline.Key | None = None,
) -> MemberDetail:
    """Assemble the member page (a handful of queries, all scoped by shop and member); the timeline shows
    one page of `period` (see app.dashboard.timeline)."""
    now = now or utcnow()
    facts = member_facts(session, member)
    projection = project(session, shop, [member], now).get(member.id)
    sync = session.get(MemberSyncState, member.id)
    reviews = list(
        session.scalars(
            select(IdentityReview)
            .where(IdentityReview.shop_id == shop.id, IdentityReview.status == ReviewStatus.OPEN)
            .where(or_(IdentityReview.member_id == member.id, IdentityReview.candidate_ids.is_not(None)))
            .order_by(IdentityReview.created_at.desc())
        )
    )
    # candidate_ids is JSON: filter in Python (a member has a handful of open reviews at most).
    reviews = [r for r in reviews if r.member_id == member.id or member.id in (r.candidate_ids or [])]
    candidate_ids = {cid for r in reviews for cid in (r.candidate_ids or [])} | {
        r.member_id for r in reviews if r.member_id
    }
    candidates = {
        m.id: m
        for m in session.scalars(
            select(Member).where(Member.shop_id == shop.id, Member.id.in_(candidate_ids))
        )
    }
    return MemberDetail(
        member=member,
        aggregates=aggregate(facts, now),
        timeline=timeline.page(session, shop, member, period=period, before=before, after=after),
        metafields=projection.metafields if projection else {},
        synced_values=dict(sync.values or {}) if sync else {},
        synced_at=sync.confirmed_at if sync else None,
        reviews=reviews,
        review_candidates=candidates,
        duplicates=duplicates(session, shop, member),
        rewards=list(
            session.scalars(
                select(Redemption)
                .where(Redemption.shop_id == shop.id, Redemption.member_id == member.id)
                .order_by(Redemption.created_at.desc())
                .limit(20)
            )
        ),
    )


def duplicates(session: Session, shop: Shop, member: Member) -> list[Member]:
    """Active members sharing this member's phone or email hash (the same person twice, or a family)."""
    conditions = []
    if member.phone_hash:
        conditions.append(Member.phone_hash == member.phone_hash)
    if member.email_hash:
        conditions.append(Member.email_hash == member.email_hash)
    if not conditions:
        return []
    return list(
        session.scalars(
            select(Member)
            .where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE, Member.id != member.id)
            .where(or_(*conditions))
            .limit(10)
        )
    )
