"""The Flow watcher: compares each changed member with what it last saw and queues the events it finds.

Rank and points change inside the points engine, which knows nothing of Flow. Every such change bumps the
member's `sync_version` (app/members/records.touch), so, like the syncer, the watcher visits only members
whose version moved since its mark, and the comparison (rank before/after, purchases above the last one
seen, LINE link) is the event. Changes between two passes coalesce: a rank that went up and back down
between them is no change.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.flow import catalog
from app.flow.outbox import enqueue
from app.members.projection import points_expire_at, points_expiring
from app.models.integrations import FlowMemberMark
from app.models.ledger import PointLot
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase
from app.models.shop import Shop
from app.points.ledger import member_lots
from app.shops.rules import load_rules

ROUND_SIZE = 500
# A member first seen by the watcher is compared with a new member's state (lowest rank, no LINE link, no
# purchases) when it was created this recently, so a new member's first purchase is an event; an older one
# (a member from before the shop's first pass) is taken as it is, so enabling Flow sends no backlog.
NEW_MEMBER_WINDOW = timedelta(days=1)


def watch_changes(session: Session, shop: Shop, now: datetime) -> int:
    """Queue triggers for every member changed since the last pass (round by round); members visited."""
    visited = 0
    while True:
        rows = _changed(session, shop, ROUND_SIZE)
        for member, mark in rows:
            _compare(session, shop, member, mark or _first_mark(session, shop, member, now), now)
        session.commit()
        visited += len(rows)
        if len(rows) < ROUND_SIZE:
            return visited


def _changed(session: Session, shop: Shop, limit: int) -> list[tuple[Member, FlowMemberMark | None]]:
    mark = FlowMemberMark
    stmt = (
        select(Member, mark)
        .outerjoin(mark, mark.member_id == Member.id)
        .where(
            Member.shop_id == shop.id,
            Member.status == MemberStatus.ACTIVE,
            Member.shopify_customer_id.is_not(None),
            or_(mark.member_id.is_(None), Member.sync_version > mark.seen_version),
        )
        .order_by(Member.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return [(m, k) for m, k in session.execute(stmt)]


def _first_mark(session: Session, shop: Shop, member: Member, now: datetime) -> FlowMemberMark:
    created = member.created_at
    if created is not None and created >= now - NEW_MEMBER_WINDOW:
        mark = FlowMemberMark(
            member_id=member.id,
            shop_id=shop.id,
            rank=load_rules(shop).ranks.tiers[0].handle,
            line_linked=False,
        )
        mark.purchase_seen_id = 0
    else:
        last = session.scalar(select(func.max(Purchase.id)).where(Purchase.member_id == member.id))
        mark = FlowMemberMark(
            member_id=member.id, shop_id=shop.id, rank=member.rank, line_linked=member.line_linked
        )
        mark.purchase_seen_id = last or 0
    mark.seen_version = 0
    session.add(mark)
    return mark


def _compare(session: Session, shop: Shop, member: Member, mark: FlowMemberMark, now: datetime) -> None:
    customer = str(member.shopify_customer_id)
    version = member.sync_version
    if member.rank != mark.rank:
        payload = catalog.rank_changed(customer, mark.rank, member.rank)
        enqueue(session, shop, member, catalog.RANK_CHANGED, payload, f"rank:{member.id}:{version}", now)
        mark.rank = member.rank
    if member.line_linked and not mark.line_linked:
        payload = catalog.line_linked(customer)
        enqueue(session, shop, member, catalog.LINE_LINKED, payload, f"line:{member.id}:{version}", now)
    mark.line_linked = member.line_linked
    purchases = session.execute(
        select(Purchase.id, Purchase.source_id, Purchase.points)
        .where(Purchase.member_id == member.id, Purchase.id > mark.purchase_seen_id)
        .order_by(Purchase.id)
    ).all()
    for purchase_id, source_id, points in purchases:
        if points > 0:
            payload = catalog.points_earned(customer, points, source_id)
            enqueue(session, shop, member, catalog.POINTS_EARNED, payload, f"earned:{purchase_id}", now)
        mark.purchase_seen_id = purchase_id
    mark.seen_version = version


def notice_expiring(session: Session, shop: Shop, now: datetime, days: int) -> int:
    """Queue one notice per member and expiry date for available points that expire within `days` days."""
    horizon = now + timedelta(days=days)
    mark = FlowMemberMark
    lots = and_(
        PointLot.member_id == Member.id,
        PointLot.remaining > 0,
        PointLot.expired_at.is_(None),
        PointLot.expires_at.is_not(None),
        PointLot.expires_at > now,
        PointLot.expires_at <= horizon,
        or_(mark.expiry_noticed_until.is_(None), PointLot.expires_at > mark.expiry_noticed_until),
    )
    candidates = session.execute(
        select(Member, mark)
        .outerjoin(mark, mark.member_id == Member.id)
        .where(
            Member.shop_id == shop.id,
            Member.status == MemberStatus.ACTIVE,
            Member.shopify_customer_id.is_not(None),
            Member.points_available > 0,
            select(PointLot.id).where(lots).exists(),
        )
        .order_by(Member.id)
    ).all()
    rules = load_rules(shop)
    zone = ZoneInfo(shop.timezone)
    queued = 0
    for member, found in candidates:
        row = found or _first_mark(session, shop, member, now)
        member_lot_rows = member_lots(session, member)
        first = points_expire_at(member, member_lot_rows, rules)
        points = points_expiring(member, member_lot_rows, rules, shop.timezone)
        if first is None or not points:
            continue
        expires_on = first.astimezone(zone).date()
        payload = catalog.points_expiring(str(member.shopify_customer_id), points, expires_on)
        key = f"expiring:{member.id}:{expires_on.isoformat()}"
        enqueue(session, shop, member, catalog.POINTS_EXPIRING, payload, key, now)
        # Everything expiring on that local day is announced by this notice.
        row.expiry_noticed_until = datetime.combine(expires_on + timedelta(days=1), time.min, tzinfo=zone)
        queued += 1
    session.commit()
    return queued
