"""One member as staff see it: cross-channel timeline, balances, metafields, reviews, merge suggestions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.domain.history import HistoryAggregates, aggregate
from app.domain.projection import MetafieldValue
from app.members.projection import project
from app.members.records import member_facts
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import IdentityReview, Member, MemberStatus, ReviewStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.rank import RankSnapshot
from app.models.redemption import Redemption
from app.models.shop import Shop
from app.models.sync_state import MemberSyncState
from app.models.types import utcnow

TIMELINE_LIMIT = 200
MEMBER_ACCOUNTS = ("pending", "available")  # "held" is a reservation of available points, not a change


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to the member, on any channel."""

    at: datetime
    kind: str  # purchase | refund | points | rank | floor | reward
    channel: str | None = None  # online | pos | external_pos | app | other (purchases, refunds)
    store: str | None = None
    amount: Decimal | None = None
    points: int | None = None
    label: str = ""  # ledger kind, rank handle, order reference...
    detail: str | None = None  # staff reason, code, previous rank


@dataclass
class MemberDetail:
    """Everything the member page shows."""

    member: Member
    aggregates: HistoryAggregates
    timeline: list[TimelineEntry]
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


def detail(session: Session, shop: Shop, member: Member, now: datetime | None = None) -> MemberDetail:
    """Assemble the member page (a handful of queries, all scoped by shop and member)."""
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
        timeline=timeline(session, shop, member),
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


def timeline(
    session: Session, shop: Shop, member: Member, limit: int = TIMELINE_LIMIT
) -> list[TimelineEntry]:
    """Purchases, refunds, ledger entries, rank changes and rewards, newest first."""
    entries: list[TimelineEntry] = []
    purchases = list(
        session.scalars(
            select(Purchase)
            .where(Purchase.shop_id == shop.id, Purchase.member_id == member.id)
            .order_by(Purchase.processed_at.desc())
            .limit(limit)
        )
    )
    for p in purchases:
        entries.append(
            TimelineEntry(
                at=p.processed_at,
                kind="purchase",
                channel=p.channel,
                store=p.location_name,
                amount=p.gross_amount,
                points=p.points,
                label=p.source_id,
                detail="cancelled" if p.cancelled else None,
            )
        )
    by_id = {p.id: p for p in purchases}
    if by_id:
        for r in session.scalars(
            select(PurchaseRefund).where(
                PurchaseRefund.shop_id == shop.id, PurchaseRefund.purchase_id.in_(by_id)
            )
        ):
            p = by_id[r.purchase_id]  # type: ignore[index]  # selected by purchase id: set
            entries.append(
                TimelineEntry(
                    at=r.processed_at,
                    kind="refund",
                    channel=p.channel,
                    store=p.location_name,
                    amount=-r.amount,
                    label=p.source_id,
                )
            )
    entries += _ledger_entries(session, shop, member, limit)
    entries += _rank_entries(session, shop, member)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def _ledger_entries(session: Session, shop: Shop, member: Member, limit: int) -> list[TimelineEntry]:
    rows = session.execute(
        select(LedgerTransaction, LedgerPosting.account, LedgerPosting.points)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.shop_id == shop.id, LedgerPosting.member_id == member.id)
        .order_by(LedgerTransaction.effective_at.desc(), LedgerTransaction.id.desc())
        .limit(limit * 3)
    ).all()
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    txs: dict[int, LedgerTransaction] = {}
    for tx, account, points in rows:
        txs[tx.id] = tx
        deltas[tx.id][account] += points
    out = []
    for tx_id, tx in txs.items():
        d = deltas[tx_id]
        change = sum(d[a] for a in MEMBER_ACCOUNTS)
        if tx.kind == "mature":
            change = d["available"]  # pending -> available: show what became spendable
        out.append(
            TimelineEntry(at=tx.effective_at, kind="points", points=change, label=tx.kind, detail=tx.reason)
        )
    return out


def _rank_entries(session: Session, shop: Shop, member: Member) -> list[TimelineEntry]:
    """Rank changes as the month-end snapshots recorded them, plus a staff floor."""
    snaps = session.execute(
        select(RankSnapshot.period, RankSnapshot.rank, RankSnapshot.taken_at)
        .where(RankSnapshot.shop_id == shop.id, RankSnapshot.member_id == member.id)
        .order_by(RankSnapshot.period)
    ).all()
    out, previous = [], None
    for _period, rank, taken_at in snaps:
        if rank != previous:
            out.append(TimelineEntry(at=taken_at, kind="rank", label=rank, detail=previous or None))
            previous = rank
    if member.rank_floor and member.rank_floor_starts_at:
        out.append(TimelineEntry(at=member.rank_floor_starts_at, kind="floor", label=member.rank_floor))
    return out
