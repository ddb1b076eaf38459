"""The identity review queue: open reviews side by side for staff, and their decisions with an audit trail.

A review exists because a store member matched more than one member (app/members/identity.py); the app
never merges on a guess, so a person decides, with a reason, and the decision is recorded on the review
(details["audit"]) and logged by id only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.customers.merges import accept_review
from app.domain.history import HistoryAggregates, aggregate
from app.members.identity import dismiss_review
from app.members.records import member_facts
from app.models.member import IdentityReview, Member, ReviewStatus
from app.models.shop import Shop
from app.models.types import utcnow

log = logging.getLogger(__name__)

PER_PAGE = 10
Decision = Literal["merge", "keep_apart"]
Outcome = Literal["merged", "kept_apart", "already_resolved"]


class ReviewNotFound(LookupError):
    """No such review in this shop (another shop's id reads the same)."""


@dataclass(frozen=True, slots=True)
class Side:
    """One member of a review as staff compare it: balances, purchases, and what it shares with the store
    member (never the phone or email itself: only that they are the same)."""

    member: Member
    history: HistoryAggregates
    same: tuple[str, ...]  # "member_number" | "phone" | "email"


@dataclass(frozen=True, slots=True)
class ReviewCard:
    review: IdentityReview
    store: Side | None  # None when the store member was deleted since
    candidates: list[Side]


@dataclass(frozen=True, slots=True)
class QueuePage:
    cards: list[ReviewCard]
    total: int
    page: int
    pages: int


def open_queue(session: Session, shop: Shop, page: int = 1, now: datetime | None = None) -> QueuePage:
    """Open reviews of the shop, oldest first (the longest waiting are decided first), one page."""
    now = now or utcnow()
    scope = (IdentityReview.shop_id == shop.id, IdentityReview.status == ReviewStatus.OPEN)
    total = session.scalar(select(func.count()).select_from(IdentityReview).where(*scope)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    reviews = list(
        session.scalars(
            select(IdentityReview)
            .where(*scope)
            .order_by(IdentityReview.created_at, IdentityReview.id)
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE)
        )
    )
    ids = {r.member_id for r in reviews if r.member_id} | {c for r in reviews for c in r.candidate_ids or []}
    members = {
        m.id: m for m in session.scalars(select(Member).where(Member.shop_id == shop.id, Member.id.in_(ids)))
    }
    cards = []
    for review in reviews:
        store = members.get(review.member_id or 0)
        candidates = [members[c] for c in review.candidate_ids or [] if c in members]
        cards.append(
            ReviewCard(
                review=review,
                store=_side(session, store, None, review, now) if store else None,
                candidates=[_side(session, c, store, review, now) for c in candidates],
            )
        )
    return QueuePage(cards=cards, total=total, page=page, pages=pages)


def _side(
    session: Session, member: Member, store: Member | None, review: IdentityReview, now: datetime
) -> Side:
    same: list[str] = []
    if store is not None:
        if review.matched_by == "member_number":
            same.append("member_number")
        if member.phone_hash and member.phone_hash == store.phone_hash:
            same.append("phone")
        if member.email_hash and member.email_hash == store.email_hash:
            same.append("email")
    return Side(member=member, history=aggregate(member_facts(session, member), now), same=tuple(same))


def decide(
    session: Session,
    shop: Shop,
    review_id: int,
    decision: Decision,
    *,
    reason: str,
    actor: str,
    member_id: int | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Merge the store member into `member_id`, or keep them apart; a resolved review is left as it is.

    Raises ReviewNotFound for another shop's or an unknown review, ValueError for a member that is not a
    candidate (or no longer active).
    """
    now = now or utcnow()
    # Locked so two staff deciding the same review at once resolve it once (the second sees it closed).
    review = session.scalar(
        select(IdentityReview)
        .where(IdentityReview.id == review_id, IdentityReview.shop_id == shop.id)
        .with_for_update()
    )
    if review is None:
        raise ReviewNotFound(review_id)
    if review.status != ReviewStatus.OPEN:
        return "already_resolved"
    if not reason.strip():
        raise ValueError("a decision needs a reason")
    if decision == "keep_apart":
        dismiss_review(session, shop, review.id, now, actor=actor, reason=reason)
        outcome: Outcome = "kept_apart"
    else:
        if member_id is None:
            raise ValueError("merge needs the chosen candidate")
        if not accept_review(session, shop, review.id, member_id, now, actor=actor, reason=reason):
            return "already_resolved"
        outcome = "merged"
    log.info(
        "identity review %s %s by %s: store member %s, candidates %s, survivor %s",
        review.id,
        outcome,
        actor,
        review.member_id,
        list(review.candidate_ids or []),
        review.resolved_member_id,
    )
    return outcome
