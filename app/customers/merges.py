"""Merging two members into one: ledger, lots, history, links and rank move to the survivor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.replay import MOVEMENT_KINDS
from app.members.identity import record_review_decision
from app.members.records import lock_member, touch
from app.models.ledger import LedgerPosting, LedgerTransaction, PointHold
from app.models.member import ExternalLink, IdentityReview, Member, MemberStatus, ReviewStatus
from app.models.purchase import Purchase
from app.models.shop import Shop
from app.models.types import utcnow
from app.points import ledger
from app.points.engine import rebuild_members
from app.shops.rules import load_rules


def merge_members(
    session: Session, shop: Shop, survivor_id: int, merged_id: int, *, key: str, now: datetime | None = None
) -> bool:
    """Fold `merged_id` into `survivor_id` once (by `key`); False if there was nothing to do."""
    now = now or utcnow()
    if survivor_id == merged_id:
        return False
    # Lock in id order so two merges touching the same pair cannot deadlock.
    first, second = sorted((survivor_id, merged_id))
    locked = {first: lock_member(session, first), second: lock_member(session, second)}
    survivor, merged = locked[survivor_id], locked[merged_id]
    if (
        merged.status != MemberStatus.ACTIVE
        or survivor.status != MemberStatus.ACTIVE
        or survivor.shop_id != shop.id
    ):
        return False
    if not ledger.post(
        session,
        shop.id,
        survivor,
        source="merge",
        source_id=key,
        kind="merge",
        legs=[],  # an audit entry: the history moves, and the replay re-derives both members' points
        effective_at=now,
        reason=f"member {merged.member_number} merged into {survivor.member_number}",
    ):
        return False
    _move_history(session, survivor, merged)
    session.execute(
        update(IdentityReview)
        .where(IdentityReview.member_id == merged.id, IdentityReview.status == ReviewStatus.OPEN)
        .values(status=ReviewStatus.LINKED, resolved_member_id=survivor.id, resolved_at=now)
    )
    _keep_identity(survivor, merged)
    merged.status, merged.merged_into_id = MemberStatus.MERGED, survivor.id
    touch(merged, now)
    session.flush()
    # Both are replayed: the survivor as if the moved purchases and movements had always been its own, the
    # merged member emptied.
    rebuild_members(session, shop, [survivor.id, merged.id], now, rules=load_rules(shop))
    touch(survivor, now)
    return True


def _move_history(session: Session, survivor: Member, merged: Member) -> None:
    """Purchases, point movements (with their member legs), holds and links move to the survivor."""
    movements = select(LedgerTransaction.id).where(
        LedgerTransaction.member_id == merged.id, LedgerTransaction.kind.in_(MOVEMENT_KINDS)
    )
    session.execute(
        update(LedgerPosting)
        .where(LedgerPosting.member_id == merged.id, LedgerPosting.transaction_id.in_(movements))
        .values(member_id=survivor.id)
    )
    session.execute(
        update(LedgerTransaction)
        .where(LedgerTransaction.member_id == merged.id, LedgerTransaction.kind.in_(MOVEMENT_KINDS))
        .values(member_id=survivor.id)
    )
    for model in (Purchase, PointHold, ExternalLink):
        session.execute(update(model).where(model.member_id == merged.id).values(member_id=survivor.id))


def _keep_identity(survivor: Member, merged: Member) -> None:
    """The merged member's hashes, LINE link and staff-set rank floor, where the survivor has none."""
    survivor.phone_hash = survivor.phone_hash or merged.phone_hash
    survivor.email_hash = survivor.email_hash or merged.email_hash
    survivor.line_linked = survivor.line_linked or merged.line_linked
    if merged.rank_floor and not survivor.rank_floor:
        survivor.rank_floor = merged.rank_floor
        survivor.rank_floor_starts_at = merged.rank_floor_starts_at
        survivor.rank_floor_expires_at = merged.rank_floor_expires_at


def accept_review(
    session: Session,
    shop: Shop,
    review_id: int,
    member_id: int,
    now: datetime | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
) -> bool:
    """Staff confirm the store member of a review is `member_id`: merge it into that member."""
    now = now or utcnow()
    review = session.get(IdentityReview, review_id)
    if (
        review is None
        or review.shop_id != shop.id
        or review.status != ReviewStatus.OPEN
        or review.member_id is None
    ):
        return False
    if member_id not in review.candidate_ids:
        raise ValueError("the chosen member is not one of the review's candidates")
    store_member = session.get(Member, review.member_id)
    candidate = session.get(Member, member_id)
    if store_member is None or candidate is None or candidate.status != MemberStatus.ACTIVE:
        raise ValueError("that member no longer exists (merged, deleted or redacted)")
    # The Shopify-backed member survives, so its customer id and metafields stay where Shopify has them.
    survivor, merged = (
        (candidate, store_member) if candidate.shopify_customer_id else (store_member, candidate)
    )
    merge_members(session, shop, survivor.id, merged.id, key=f"review:{review.id}", now=now)
    review.status, review.resolved_member_id, review.resolved_at = ReviewStatus.LINKED, survivor.id, now
    record_review_decision(review, "merge", actor=actor, reason=reason, now=now, survivor_id=survivor.id)
    return True
