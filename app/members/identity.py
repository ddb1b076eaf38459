"""Which member an event belongs to: Shopify id, external link, member number, phone, email, or a review."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.events import CustomerRef
from app.domain.identity import (
    MatchDecision,
    clean_member_number,
    decide_match,
    email_hash,
    identifier_hash,
    phone_hash,
)
from app.members.records import active_member, by_shopify_id, create_member, touch
from app.models.member import (
    CustomerTombstone,
    ExternalLink,
    IdentityReview,
    Member,
    MemberStatus,
    ReviewStatus,
)
from app.models.shop import Shop
from app.models.types import utcnow


def hash_key() -> bytes:
    """The app secret for identifier hashes (Settings.identity_hash_key, always set).

    Keep it stable: rotating it makes every stored phone/email hash unmatchable.
    """
    key: str = current_app.config["SETTINGS"].identity_hash_key
    return key.encode()


def customer_hash(shop: Shop, shopify_customer_id: str) -> str:
    """Keyed hash of a Shopify customer id (what a tombstone keeps)."""
    return identifier_hash(hash_key(), shop.id, "customer", str(shopify_customer_id))


def is_tombstoned(session: Session, shop: Shop, shopify_customer_id: str) -> bool:
    """Whether this customer was redacted (then nothing about them may be stored again)."""
    digest = customer_hash(shop, shopify_customer_id)
    stmt = select(CustomerTombstone.id).where(
        CustomerTombstone.shop_id == shop.id, CustomerTombstone.customer_hash == digest
    )
    return session.scalar(stmt) is not None


def remember_contact(shop: Shop, member: Member, email: str | None, phone: str | None) -> bool:
    """Store keyed hashes of the member's phone/email (never the values); True if anything changed."""
    key = hash_key()
    changed = False
    for attr, digest in (
        ("phone_hash", phone_hash(key, shop.id, phone)),
        ("email_hash", email_hash(key, shop.id, email)),
    ):
        if digest and getattr(member, attr) != digest:
            setattr(member, attr, digest)
            changed = True
    return changed


def match(
    session: Session,
    shop: Shop,
    *,
    code: str | None,
    email: str | None,
    phone: str | None,
    exclude: int | None = None,
    only_store_members: bool = False,
) -> MatchDecision:
    """Candidates by member number, then phone hash, then email hash (active members only)."""
    key = hash_key()
    base = select(Member.id).where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
    if exclude is not None:
        base = base.where(Member.id != exclude)
    if only_store_members:
        base = base.where(Member.shopify_customer_id.is_(None))
    number = clean_member_number(code)
    by_number = list(session.scalars(base.where(Member.member_number == number))) if number else []
    digest = phone_hash(key, shop.id, phone)
    by_phone = list(session.scalars(base.where(Member.phone_hash == digest))) if digest else []
    digest = email_hash(key, shop.id, email)
    by_email = list(session.scalars(base.where(Member.email_hash == digest))) if digest else []
    return decide_match(by_number, by_phone, by_email)


def find_link(
    session: Session, shop: Shop, source: str, *, external_id: str | None, code: str | None
) -> ExternalLink | None:
    """The link of an external member, by its id or its code."""
    for column, value in ((ExternalLink.external_id, external_id), (ExternalLink.code, code)):
        if value:
            link = session.scalar(
                select(ExternalLink).where(
                    ExternalLink.shop_id == shop.id, ExternalLink.source == source, column == value
                )
            )
            if link is not None:
                return link
    return None


def open_review(
    session: Session,
    shop: Shop,
    source: str,
    decision: MatchDecision,
    store_member: Member,
    *,
    external_id: str | None,
    code: str | None,
) -> IdentityReview:
    """Queue an ambiguous match for staff (one open row per store member)."""
    existing = session.scalar(
        select(IdentityReview).where(
            IdentityReview.shop_id == shop.id,
            IdentityReview.member_id == store_member.id,
            IdentityReview.status == ReviewStatus.OPEN,
        )
    )
    if existing is not None:
        existing.candidate_ids = list(decision.candidates)
        return existing
    review = IdentityReview(
        shop_id=shop.id,
        source=source,
        external_id=external_id,
        code=code,
        member_id=store_member.id,
        matched_by=decision.by or "",
        candidate_ids=list(decision.candidates),
        status=ReviewStatus.OPEN,
    )
    session.add(review)
    session.flush()
    return review


def link_external(
    session: Session,
    shop: Shop,
    source: str,
    *,
    external_id: str | None,
    code: str | None,
    email: str | None = None,
    phone: str | None = None,
) -> Member:
    """The member of an external (store) identity, linking or creating it; ambiguity opens a review."""
    link = find_link(session, shop, source, external_id=external_id, code=code)
    if link is not None:
        member = active_member(session, session.get(Member, link.member_id))
        if member is not None:
            if external_id and not link.external_id:
                link.external_id = external_id
            if code and not link.code:
                link.code = code
            return member
        session.delete(link)  # its member was deleted: link afresh
        session.flush()
    decision = match(session, shop, code=code, email=email, phone=phone)
    if decision.outcome == "matched":
        member = session.get(Member, decision.member_id)
        assert member is not None
        linked_by = decision.by or "matched"
    else:
        # A store-only member collects points now; an ambiguous match waits for staff to merge it.
        member = create_member(session, shop)
        remember_contact(shop, member, email, phone)
        linked_by = "created"
        if decision.outcome == "ambiguous":
            open_review(session, shop, source, decision, member, external_id=external_id, code=code)
    session.add(
        ExternalLink(
            shop_id=shop.id,
            member_id=member.id,
            source=source,
            external_id=external_id,
            code=code,
            linked_by=linked_by,
        )
    )
    touch(member)
    session.flush()
    return member


def member_for_customer(
    session: Session,
    shop: Shop,
    shopify_customer_id: str,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Member | None:
    """The member of a Shopify customer, created (or a store-only member linked) on first sight."""
    row = by_shopify_id(session, shop, shopify_customer_id)
    if row is not None:
        return active_member(session, row)  # redaction deletes the row, so a known row is never tombstoned
    if is_tombstoned(session, shop, shopify_customer_id):
        return None
    decision = match(session, shop, code=None, email=email, phone=phone, only_store_members=True)
    if decision.outcome == "matched":
        # The store member is this customer: give it the Shopify id instead of creating a second member.
        member = session.get(Member, decision.member_id)
        assert member is not None
        member.shopify_customer_id = str(shopify_customer_id)
    else:
        try:
            with session.begin_nested():
                member = create_member(session, shop, str(shopify_customer_id))
        except IntegrityError:
            # Another transaction created this customer's member a moment ago (the install backfill's
            # customer row and a live order webhook for a new customer): theirs is the member.
            row = by_shopify_id(session, shop, shopify_customer_id)
            if row is None:
                raise
            return active_member(session, row)
        if decision.outcome == "ambiguous":
            for candidate in decision.candidates:
                store_member = session.get(Member, candidate)
                assert store_member is not None
                open_review(
                    session,
                    shop,
                    "shopify",
                    MatchDecision("ambiguous", None, decision.by, (member.id,)),
                    store_member,
                    external_id=None,
                    code=None,
                )
    remember_contact(shop, member, email, phone)
    touch(member)
    session.flush()
    return member


def resolve_member(session: Session, shop: Shop, source: str, ref: CustomerRef | None) -> Member | None:
    """The member a purchase belongs to (None for a walk-in sale or a redacted customer)."""
    if ref is None or ref.is_empty:
        return None
    if ref.shopify_customer_id:
        return member_for_customer(session, shop, ref.shopify_customer_id, email=ref.email, phone=ref.phone)
    if ref.external_code:
        return link_external(
            session, shop, source, external_id=None, code=ref.external_code, email=ref.email, phone=ref.phone
        )
    decision = match(session, shop, code=None, email=ref.email, phone=ref.phone)
    # Phone or email alone never creates a member (nothing stable to find it again by).
    return session.get(Member, decision.member_id) if decision.outcome == "matched" else None


def dismiss_review(
    session: Session,
    shop: Shop,
    review_id: int,
    now: datetime | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
) -> bool:
    """Staff say the candidates are different people: the store member stays on its own."""
    review = session.get(IdentityReview, review_id)
    if review is None or review.shop_id != shop.id or review.status != ReviewStatus.OPEN:
        return False
    review.status = ReviewStatus.DISMISSED
    review.resolved_at = now = now or utcnow()
    record_review_decision(review, "keep_apart", actor=actor, reason=reason, now=now)
    return True


def record_review_decision(
    review: IdentityReview,
    decision: str,
    *,
    actor: str | None,
    reason: str | None,
    now: datetime,
    survivor_id: int | None = None,
) -> None:
    """Append who decided what, when and why to the review's audit trail (details["audit"]).

    The JSON column is replaced, not mutated in place, so the ORM sees the change.
    """
    entry = {
        "at": now.isoformat(),
        "by": actor,
        "decision": decision,
        "reason": reason,
        "store_member_id": review.member_id,
        "candidate_ids": list(review.candidate_ids or []),
        "survivor_id": survivor_id,
    }
    details = dict(review.details or {})
    details["audit"] = [*details.get("audit", []), entry]
    review.details = details
