"""Compliance: export everything held about a customer, or erase it for good (books still balance)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.members.identity import customer_hash, is_tombstoned
from app.members.records import by_shopify_id, lock_member
from app.models.ledger import LedgerPosting, LedgerTransaction, PointHold, PointLot
from app.models.member import CustomerTombstone, ExternalLink, IdentityReview, Member
from app.models.purchase import Purchase, PurchaseRefund
from app.models.rank import RankSnapshot
from app.models.shop import Shop
from app.models.types import utcnow
from app.points import ledger


def _with_merged(session: Session, member: Member) -> list[Member]:
    """The member and every member merged into it (the same person under older customer ids)."""
    found, frontier = [member], [member.id]
    while frontier:
        rows = list(session.scalars(select(Member).where(Member.merged_into_id.in_(frontier))))
        found += rows
        frontier = [r.id for r in rows]
    return found


def redact_customer(session: Session, shop: Shop, shopify_customer_id: str) -> bool:
    """Delete the customer's data and history; keep anonymised ledger totals and a tombstone.

    Balances left on the member are moved to the shop's `redacted` account, then every posting and
    transaction loses its member and purchase, so the shop's books still sum to zero. The tombstone (a keyed
    hash of the customer id) stops a replayed order or customer webhook from creating the member again.
    """
    now = utcnow()
    if not is_tombstoned(session, shop, shopify_customer_id):
        session.add(
            CustomerTombstone(shop_id=shop.id, customer_hash=customer_hash(shop, shopify_customer_id))
        )
        session.flush()
    row = by_shopify_id(session, shop, shopify_customer_id)
    if row is None:
        return False
    for member in _with_merged(session, lock_member(session, row.id)):
        _erase(session, shop, member, now)
    session.flush()
    return True


def _erase(session: Session, shop: Shop, member: Member, now) -> None:
    legs: list[ledger.Leg] = []
    total = 0
    for account in ("pending", "available", "held"):
        points = getattr(member, f"points_{account}")
        if points:
            legs.append((account, member.id, -points))
            total += points
    if legs:
        legs.append(("redacted", None, total))
        ledger.post(
            session,
            shop.id,
            member,
            source="system",
            source_id=f"redact:{member.id}",
            kind="redact",
            legs=legs,
            effective_at=now,
        )
    purchase_ids = list(session.scalars(select(Purchase.id).where(Purchase.member_id == member.id)))
    session.execute(update(LedgerPosting).where(LedgerPosting.member_id == member.id).values(member_id=None))
    txn_filter = LedgerTransaction.member_id == member.id
    if purchase_ids:
        txn_filter = or_(txn_filter, LedgerTransaction.purchase_id.in_(purchase_ids))
    # Staff reasons may name the customer: they go too. Order ids stay as keys so a replay credits nothing.
    session.execute(
        update(LedgerTransaction).where(txn_filter).values(member_id=None, purchase_id=None, reason=None)
    )
    for model in (PointHold, PointLot, ExternalLink, RankSnapshot):
        session.execute(delete(model).where(model.member_id == member.id))
    session.execute(delete(IdentityReview).where(IdentityReview.member_id == member.id))
    session.execute(
        update(IdentityReview)
        .where(IdentityReview.resolved_member_id == member.id)
        .values(resolved_member_id=None)
    )
    if purchase_ids:
        session.execute(delete(PurchaseRefund).where(PurchaseRefund.purchase_id.in_(purchase_ids)))
        session.execute(delete(Purchase).where(Purchase.id.in_(purchase_ids)))
    session.execute(update(Member).where(Member.merged_into_id == member.id).values(merged_into_id=None))
    session.delete(member)
    session.flush()


def export_customer(session: Session, shop: Shop, shopify_customer_id: str) -> dict[str, Any]:
    """Everything the app holds about one customer, as a JSON-able dict (for customers/data_request)."""
    row = by_shopify_id(session, shop, shopify_customer_id)
    result: dict[str, Any] = {
        "shop": shop.domain,
        "shopify_customer_id": str(shopify_customer_id),
        "redacted": is_tombstoned(session, shop, shopify_customer_id),
        "members": [],
        "note": "No name, email or phone is stored: only keyed hashes of phone and email, for matching.",
    }
    if row is None:
        return result
    for member in _with_merged(session, row):
        result["members"].append(_export_member(session, member))
    return result


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _export_member(session: Session, member: Member) -> dict[str, Any]:
    purchases = list(
        session.scalars(
            select(Purchase).where(Purchase.member_id == member.id).order_by(Purchase.processed_at)
        )
    )
    ids = [p.id for p in purchases]
    refunds = (
        list(session.scalars(select(PurchaseRefund).where(PurchaseRefund.purchase_id.in_(ids))))
        if ids
        else []
    )
    txns = session.scalars(
        select(LedgerTransaction)
        .join(LedgerPosting)
        .where(LedgerPosting.member_id == member.id)
        .distinct()
        .order_by(LedgerTransaction.id)
    )
    return {
        "member_number": member.member_number,
        "status": member.status,
        "shopify_customer_id": member.shopify_customer_id,
        "rank": member.rank,
        "rank_floor": member.rank_floor,
        "rank_floor_expires_at": _iso(member.rank_floor_expires_at),
        "points": {
            "available": member.points_available,
            "pending": member.points_pending,
            "held": member.points_held,
        },
        "phone_hash": member.phone_hash,
        "email_hash": member.email_hash,
        "line_linked": member.line_linked,
        "created_at": _iso(member.created_at),
        "links": [
            {"source": link.source, "external_id": link.external_id, "code": link.code}
            for link in session.scalars(select(ExternalLink).where(ExternalLink.member_id == member.id))
        ],
        "purchases": [
            {
                "source": p.source,
                "order_id": p.source_id,
                "channel": p.channel,
                "store": p.location_name,
                "amount": str(p.gross_amount),
                "currency": p.currency,
                "items": p.items_count,
                "processed_at": _iso(p.processed_at),
                "cancelled": p.cancelled,
                "points": p.points,
                "refunds": [
                    {"refund_id": r.source_id, "amount": str(r.amount), "processed_at": _iso(r.processed_at)}
                    for r in refunds
                    if r.purchase_id == p.id
                ],
            }
            for p in purchases
        ],
        "ledger": [
            {
                "kind": t.kind,
                "source": t.source,
                "source_id": t.source_id,
                "at": _iso(t.effective_at),
                "reason": t.reason,
                "points": sum(x.points for x in t.postings if x.member_id == member.id),
            }
            for t in txns
        ],
        "rank_history": [
            {"period": s.period, "rank": s.rank}
            for s in session.scalars(
                select(RankSnapshot).where(RankSnapshot.member_id == member.id).order_by(RankSnapshot.period)
            )
        ],
    }
