"""Member rows: creation with a fresh member number, row locks, the sync marker, and history facts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.history import PurchaseFact, RefundFact
from app.domain.identity import new_member_number
from app.domain.ranks import RankFloor
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop
from app.models.types import utcnow


def touch(member: Member, now: datetime | None = None) -> None:
    """Mark the member changed: the only place `sync_version` moves, so the syncer never misses a change."""
    member.sync_version = (member.sync_version or 0) + 1
    member.updated_at = now or utcnow()


def create_member(session: Session, shop: Shop, shopify_customer_id: str | None = None) -> Member:
    """A new member with a member number unique in the shop (random, retried on the rare collision)."""
    for _ in range(20):
        number = new_member_number()
        taken = session.scalar(
            select(Member.id).where(Member.shop_id == shop.id, Member.member_number == number)
        )
        if taken is None:
            break
    else:  # pragma: no cover - 10^11 numbers per shop
        raise RuntimeError("could not find a free member number")
    member = Member(
        shop_id=shop.id,
        shopify_customer_id=shopify_customer_id,
        member_number=number,
        status=MemberStatus.ACTIVE,
        rank=_lowest_rank(shop),
        points_pending=0,
        points_available=0,
        points_held=0,
        points_debt=0,
        sync_version=1,
        line_linked=False,
    )
    session.add(member)
    session.flush()
    return member


def _lowest_rank(shop: Shop) -> str:
    from app.shops.rules import load_rules

    return load_rules(shop).ranks.tiers[0].handle


def lock_member(session: Session, member_id: int) -> Member:
    """Load the member FOR UPDATE (PostgreSQL): one event per member at a time, whatever the worker count."""
    stmt = (
        select(Member)
        .where(Member.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.execute(stmt).scalar_one()


def active_member(session: Session, member: Member | None) -> Member | None:
    """Follow merges to the surviving member; None for a deleted one."""
    seen = set()
    while (
        member is not None
        and member.status == MemberStatus.MERGED
        and member.merged_into_id
        and member.id not in seen
    ):
        seen.add(member.id)
        member = session.get(Member, member.merged_into_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        return None
    return member


def by_shopify_id(session: Session, shop: Shop, shopify_customer_id: str) -> Member | None:
    """The member row holding this Shopify customer id (active, merged or deleted)."""
    return session.scalar(
        select(Member).where(
            Member.shop_id == shop.id, Member.shopify_customer_id == str(shopify_customer_id)
        )
    )


def rank_floor(member: Member) -> RankFloor | None:
    """The staff-set rank floor as the domain sees it."""
    if not member.rank_floor or member.rank_floor_starts_at is None:
        return None
    return RankFloor(member.rank_floor, member.rank_floor_starts_at, member.rank_floor_expires_at)


def member_purchases(session: Session, member: Member) -> list[Purchase]:
    """The member's purchases, oldest first."""
    stmt = (
        select(Purchase)
        .where(Purchase.member_id == member.id)
        .order_by(Purchase.processed_at, Purchase.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def refunds_by_purchase(session: Session, purchases: list[Purchase]) -> dict[int, list[PurchaseRefund]]:
    """Every known refund of these purchases, grouped by purchase id."""
    grouped: dict[int, list[PurchaseRefund]] = defaultdict(list)
    ids = [p.id for p in purchases]
    if not ids:
        return grouped
    for refund in session.scalars(select(PurchaseRefund).where(PurchaseRefund.purchase_id.in_(ids))):
        grouped[refund.purchase_id].append(refund)  # type: ignore[index]  # selected by purchase id: set
    return grouped


def to_fact(
    purchase: Purchase, refunds: list[PurchaseRefund], exclude: frozenset[int] = frozenset()
) -> PurchaseFact:
    """A purchase as the domain sees it (refund ids in `exclude` left out)."""
    return PurchaseFact(
        ref=f"{purchase.source}:{purchase.source_id}",
        processed_at=purchase.processed_at,
        gross=purchase.gross_amount,
        channel=purchase.channel,
        location_key=purchase.location_key,
        location_name=purchase.location_name,
        items_count=purchase.items_count,
        cancelled=purchase.cancelled,
        refunds=tuple(RefundFact(r.amount, r.processed_at) for r in refunds if r.id not in exclude),
        points=purchase.points,
    )


def member_facts(session: Session, member: Member) -> list[PurchaseFact]:
    """The member's whole purchase history as domain facts."""
    purchases = member_purchases(session, member)
    refunds = refunds_by_purchase(session, purchases)
    return [to_fact(p, refunds.get(p.id, [])) for p in purchases]
