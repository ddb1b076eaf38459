"""Redemption: points become a single-use Shopify discount code for one customer.

Points are held in the ledger (available -> held) before the code exists in Shopify, so a code never exists
without points behind it. An order using the code (online or POS: the purchase keeps its `discount_codes`)
captures the hold; a code left unused is released after it ends plus a grace period for late webhooks and
offline POS syncs. Two redemptions racing for the same points: the member row's sync_version is the
compare-and-swap, so exactly one takes the points.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.members.records import active_member, lock_member
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase
from app.models.rewards import Redemption, RedemptionStatus
from app.models.shop import Shop
from app.models.types import rows_affected, utcnow
from app.points import spending
from app.points.spending import InsufficientPoints
from app.shopify.errors import ShopifyError, ShopifyUserErrors
from app.shopify.ids import customer_gid
from app.shopify.pacing import CostPacer, paced_execute

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O/1/I: codes get read aloud at the till
CODE_LENGTH = 10
DEFAULT_VALIDITY = timedelta(days=30)
# A code used just before it ended can reach us late (offline POS, delayed webhooks): wait before releasing.
RELEASE_GRACE = timedelta(days=3)

__all__ = ["InsufficientPoints", "RedemptionConflict", "RedemptionFailed", "redeem"]


class RedemptionConflict(Exception):
    """The member changed while we were taking the points; the caller may try again."""


class RedemptionFailed(Exception):
    """Shopify refused the discount code; the points were given back."""


def new_code() -> str:
    """A random code like `TSU-7KQ4M2XHPA`."""
    return "TSU-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def value_of(shop: Shop, points: int) -> Decimal:
    """Money off for `points` (`Shop.settings["point_value"]`, default 1 unit of currency per point)."""
    per_point = Decimal(str((shop.settings or {}).get("point_value", "1")))
    return (per_point * points).quantize(Decimal("0.01"))


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _take_points(
    session: Session,
    shop: Shop,
    member_id: int,
    points: int,
    request_key: str,
    now: datetime,
    validity: timedelta,
    requested_by: str,
) -> Redemption:
    """Hold the points and record the redemption in one transaction (compare-and-swap on sync_version)."""
    member = lock_member(session, member_id)
    if member.shop_id != shop.id or member.status != MemberStatus.ACTIVE or not member.shopify_customer_id:
        raise LookupError("no such member in this shop")
    seen = member.sync_version
    swapped = rows_affected(
        session.execute(
            update(Member)
            .where(Member.id == member.id, Member.sync_version == seen)
            .values(sync_version=seen + 1)
            .execution_options(synchronize_session=False)
        )
    )
    if swapped != 1:
        session.rollback()
        raise RedemptionConflict("the member changed meanwhile")
    member = lock_member(session, member_id)  # re-read: what we hold now is what we decide on
    if member.points_available < points:
        session.rollback()
        raise InsufficientPoints(f"{points} asked, {member.points_available} available")
    code = new_code()
    hold_key = f"redemption:{code}"
    spending.hold(session, member, points, key=hold_key, now=now)
    row = Redemption(
        shop_id=shop.id,
        member_id=member.id,
        request_key=request_key,
        points=points,
        amount=value_of(shop, points),
        currency=shop.currency,
        code=code,
        hold_key=hold_key,
        status=RedemptionStatus.CREATING,
        requested_by=requested_by,
        expires_at=now + validity,
        created_at=now,
    )
    session.add(row)
    session.commit()
    return row


def redeem(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    member_id: int,
    points: int,
    *,
    request_key: str,
    requested_by: str = "staff",
    now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> Redemption:
    """Turn `points` into a discount code for the member (idempotent by `request_key`).

    Raises InsufficientPoints, RedemptionConflict (retry) or RedemptionFailed (Shopify refused).
    """
    if points <= 0:
        raise ValueError("points must be positive")
    now = now or utcnow()
    existing = session.scalar(
        select(Redemption).where(Redemption.shop_id == shop.id, Redemption.request_key == request_key)
    )
    if existing is not None:
        return existing
    try:
        row = _take_points(session, shop, member_id, points, request_key, now, validity, requested_by)
    except IntegrityError:  # the same request_key raced in: return the winner's redemption
        session.rollback()
        return session.scalars(
            select(Redemption).where(Redemption.shop_id == shop.id, Redemption.request_key == request_key)
        ).one()
    return create_code(session, shop, client, pacer, row)


def create_code(session: Session, shop: Shop, client: Any, pacer: CostPacer, row: Redemption) -> Redemption:
    """Create the Shopify code of a redemption in `creating` state (also used to resume after a crash)."""
    member = session.get(Member, row.member_id)
    if member is None:
        raise LookupError("the redemption's member is gone")
    variables = {
        "basicCodeDiscount": {
            "title": f"Tsunagu points: {row.points} pt ({row.code})",
            "code": row.code,
            "startsAt": _iso(row.created_at),
            "endsAt": _iso(row.expires_at),
            "usageLimit": 1,
            "appliesOncePerCustomer": True,
            "context": {"customers": {"add": [customer_gid(member.shopify_customer_id or "")]}},
            "customerGets": {
                "value": {"discountAmount": {"amount": str(row.amount), "appliesOnEachItem": False}},
                "items": {"all": True},
            },
        }
    }
    try:
        data = paced_execute(client, pacer, "discount_code_basic_create", variables)
    except ShopifyUserErrors as exc:
        if any(e.get("code") == "TAKEN" for e in exc.user_errors) and row.status == RedemptionStatus.CREATING:
            # Our own earlier attempt got through before a crash: the code exists, keep the hold.
            row.status = RedemptionStatus.ACTIVE
            session.commit()
            return row
        _fail(session, row, "; ".join(str(e.get("message")) for e in exc.user_errors))
        raise RedemptionFailed(row.error) from exc
    except ShopifyError:
        session.rollback()
        raise  # unknown outcome: stays `creating`; resume_creating() retries with the same code
    row.discount_gid = data["discountCodeBasicCreate"]["codeDiscountNode"]["id"]
    row.status = RedemptionStatus.ACTIVE
    session.commit()
    return row


def _fail(session: Session, row: Redemption, reason: str) -> None:
    member = lock_member(session, row.member_id) if row.member_id else None
    if member is not None:
        spending.release(session, member, row.hold_key, utcnow())
    row.status, row.error, row.resolved_at = RedemptionStatus.FAILED, reason[:1000], utcnow()
    session.commit()


def resume_creating(session: Session, shop: Shop, client: Any, pacer: CostPacer) -> int:
    """Retry code creation left unfinished by a crash or an outage; returns how many were settled."""
    rows = session.scalars(
        select(Redemption).where(
            Redemption.shop_id == shop.id, Redemption.status == RedemptionStatus.CREATING
        )
    ).all()
    done = 0
    for row in rows:
        try:
            create_code(session, shop, client, pacer, row)
            done += 1
        except (RedemptionFailed, ShopifyError):
            continue
    return done


def settle_used(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """Capture the points of codes an order used (any channel); returns how many were captured."""
    now = now or utcnow()
    open_rows = session.scalars(
        select(Redemption).where(
            Redemption.shop_id == shop.id,
            Redemption.status.in_((RedemptionStatus.ACTIVE, RedemptionStatus.CREATING)),
        )
    ).all()
    if not open_rows:
        return 0
    by_code = {r.code.upper(): r for r in open_rows}
    since = min(r.created_at for r in open_rows)
    purchases = session.scalars(
        select(Purchase).where(
            Purchase.shop_id == shop.id, Purchase.processed_at >= since - timedelta(days=1)
        )
    )
    captured = 0
    for purchase in purchases:
        for code in purchase.discount_codes or []:
            row = by_code.pop(str(code).upper(), None)
            if row is None:
                continue
            member = active_member(session, session.get(Member, row.member_id)) if row.member_id else None
            if member is not None:
                member = lock_member(session, member.id)
                spending.capture(session, member, row.hold_key, now)
            row.status, row.used_order_id, row.resolved_at = RedemptionStatus.USED, purchase.source_id, now
            captured += 1
    session.commit()
    return captured


def release_expired(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """Give back the points of codes that ended unused (after the grace period); returns how many."""
    now = now or utcnow()
    settle_used(session, shop, now)  # a late order may have used one after all
    rows = session.scalars(
        select(Redemption).where(
            Redemption.shop_id == shop.id,
            Redemption.status == RedemptionStatus.ACTIVE,
            Redemption.expires_at < now - RELEASE_GRACE,
        )
    ).all()
    for row in rows:
        member = active_member(session, session.get(Member, row.member_id)) if row.member_id else None
        if member is not None:
            member = lock_member(session, member.id)
            spending.release(session, member, row.hold_key, now)
        row.status, row.resolved_at = RedemptionStatus.EXPIRED, now
    session.commit()
    return len(rows)
