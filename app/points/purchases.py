"""Ingest of normalised purchases and refunds: the newest snapshot and every refund are stored, then the
member's history is replayed in event time (app/points/engine.py), all in the caller's transaction.

The caller (the webhook worker, reconciliation, backfill) owns the transaction: these functions flush and
never commit. A unique-constraint race between two workers raises IntegrityError; the worker retries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.channels import ChannelInfo, classify
from app.domain.events import PurchaseEvent, RefundEvent
from app.members.identity import resolve_member
from app.members.records import lock_member, touch
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop
from app.models.types import utcnow
from app.points.engine import rebuild_members
from app.shops.locations import location_name
from app.shops.rules import load_rules


def find_purchase(session: Session, shop: Shop, source: str, source_id: str) -> Purchase | None:
    """The stored purchase of an order, reloaded from the database."""
    stmt = (
        select(Purchase)
        .where(Purchase.shop_id == shop.id, Purchase.source == source, Purchase.source_id == str(source_id))
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def _find_refund(session: Session, shop: Shop, source: str, source_id: str) -> PurchaseRefund | None:
    stmt = select(PurchaseRefund).where(
        PurchaseRefund.shop_id == shop.id,
        PurchaseRefund.source == source,
        PurchaseRefund.source_id == str(source_id),
    )
    return session.scalar(stmt)


def _record_refund(
    session: Session, shop: Shop, event: RefundEvent, purchase: Purchase | None
) -> PurchaseRefund | None:
    """Store a refund once per refund id; None if it was known already."""
    if _find_refund(session, shop, event.source, event.source_id) is not None:
        return None
    row = PurchaseRefund(
        shop_id=shop.id,
        purchase_id=purchase.id if purchase else None,
        source=event.source,
        source_id=str(event.source_id),
        order_source_id=str(event.order_source_id),
        amount=event.amount,
        processed_at=event.processed_at,
    )
    session.add(row)
    session.flush()
    return row


def apply_purchase(
    session: Session, shop: Shop, event: PurchaseEvent, now: datetime | None = None
) -> Purchase | None:
    """Apply one order snapshot: newest state wins, only the difference in points is posted.

    None when there is no member to credit (walk-in sale, redacted customer, test order).
    """
    now = now or utcnow()
    if event.test:
        return None
    rules = load_rules(shop)
    member = _member_to_credit(session, shop, event)
    if member is None:
        return None
    purchase = find_purchase(session, shop, event.source, event.source_id)  # again, under the lock
    if purchase is not None and event.source_updated_at <= purchase.source_updated_at:
        return purchase  # a retry or an older snapshot: the newest state is applied already
    info = classify(event, rules.channels)
    name = _store_name(session, shop, event, info, purchase)
    if purchase is None:
        purchase = Purchase(
            shop_id=shop.id,
            member_id=member.id,
            source=event.source,
            source_id=str(event.source_id),
            earn_rate=rules.points.rate,
            points=0,
            points_revision=0,
            created_at=now,
        )
        session.add(purchase)
    _take_snapshot(purchase, event, info, name)
    session.flush()
    _refunds_new_to(session, shop, event, purchase)
    rebuild_members(session, shop, [member.id], now, rules=rules)
    touch(member, now)  # the purchase history changed even when the points did not
    return purchase


def _member_to_credit(session: Session, shop: Shop, event: PurchaseEvent) -> Member | None:
    """The order's member, locked: the one credited before, else whom the buyer resolves to; None if none."""
    purchase = find_purchase(session, shop, event.source, event.source_id)
    if purchase is None:
        found = resolve_member(session, shop, event.source, event.customer_ref)
        if found is None:
            return None
        member_id = found.id
    else:
        member_id = purchase.member_id
    member = lock_member(session, member_id)
    return member if member.status == MemberStatus.ACTIVE else None


def _store_name(
    session: Session, shop: Shop, event: PurchaseEvent, info: ChannelInfo, purchase: Purchase | None
) -> str | None:
    """The name of the store the order was placed in, as well as it is known."""
    name = info.location_name
    if event.source == "shopify" and event.location_id and info.location_key:
        # Webhooks name the location by id only: the cached name (or the id recorded for the syncer).
        name = location_name(session, shop, event.location_id, name)
    if name is None and purchase is not None and purchase.location_key == info.location_key:
        name = purchase.location_name  # a snapshot that does not name the store never forgets its name
    return name


def _take_snapshot(purchase: Purchase, event: PurchaseEvent, info: ChannelInfo, name: str | None) -> None:
    """The order's newest state onto its purchase row."""
    purchase.channel = info.channel
    purchase.location_key = info.location_key
    purchase.location_name = name
    purchase.currency = event.currency
    purchase.gross_amount = event.gross_amount
    purchase.items_count = event.items_count
    purchase.processed_at = event.processed_at
    purchase.source_updated_at = event.source_updated_at
    purchase.cancelled = event.cancelled
    # Cancellation instant: the order's own, else this snapshot's time (the first snapshot that says so).
    if not event.cancelled:
        purchase.cancelled_at = None
    elif event.cancelled_at is not None:
        purchase.cancelled_at = event.cancelled_at
    elif purchase.cancelled_at is None:
        purchase.cancelled_at = event.source_updated_at
    purchase.discount_codes = list(event.discount_codes)


def _refunds_new_to(
    session: Session, shop: Shop, event: PurchaseEvent, purchase: Purchase
) -> list[PurchaseRefund]:
    """Refunds new to the purchase: those that arrived before their order, and new ones in the snapshot."""
    fresh: list[PurchaseRefund] = []
    orphans = select(PurchaseRefund).where(
        PurchaseRefund.shop_id == shop.id,
        PurchaseRefund.source == event.source,
        PurchaseRefund.order_source_id == str(event.source_id),
        PurchaseRefund.purchase_id.is_(None),
    )
    for orphan in session.scalars(orphans):
        orphan.purchase_id = purchase.id
        fresh.append(orphan)
    for refund in event.refunds:
        row = _record_refund(session, shop, refund, purchase)
        if row is not None:
            fresh.append(row)
    return fresh


def apply_refund(
    session: Session, shop: Shop, event: RefundEvent, now: datetime | None = None
) -> PurchaseRefund | None:
    """Apply one refund (once per refund id); points are reversed in proportion to the refunded amount.

    A refund whose order is unknown yet is kept and applied when the order arrives.
    """
    now = now or utcnow()
    if _find_refund(session, shop, event.source, event.source_id) is not None:
        return None
    purchase = find_purchase(session, shop, event.source, event.order_source_id)
    if purchase is None:
        return _record_refund(session, shop, event, None)
    member = lock_member(session, purchase.member_id)
    row = _record_refund(session, shop, event, purchase)  # re-checked under the lock
    if row is None or member.status != MemberStatus.ACTIVE:
        return row
    rebuild_members(session, shop, [member.id], now)
    touch(member, now)
    return row
