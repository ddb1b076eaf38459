"""Thank-you scheduling: one message per member and visit day, at the shop's local send time."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.domain.channels import STORE_CHANNELS
from app.models.integrations import LineConnection, LineLink, LineMessage, MessageStatus
from app.models.member import Member
from app.models.purchase import Purchase
from app.models.shop import Shop
from app.models.types import utcnow

DEFAULT_SEND_AT = "20:00"
STALE_AFTER = timedelta(hours=12)  # an offline register syncing days later must not thank people at random
SCAN_OVERLAP = timedelta(minutes=10)  # purchases committed out of order are seen on the next scan


def parse_send_at(value: str | None) -> time:
    """HH:MM (24 h) -> time; the default 20:00 for anything unreadable."""
    try:
        hours, minutes = (int(part) for part in (value or DEFAULT_SEND_AT).split(":"))
        return time(hours, minutes)
    except ValueError:
        return time(20, 0)


def send_time(visit_at: datetime, tz: str, send_at: str | None) -> tuple[date, datetime]:
    """The visit's local date and when to thank: that evening's send time, or the next day's if it passed."""
    zone = ZoneInfo(tz)
    local = visit_at.astimezone(zone)
    target = datetime.combine(local.date(), parse_send_at(send_at), tzinfo=zone)
    if local >= target:
        target = datetime.combine(local.date() + timedelta(days=1), parse_send_at(send_at), tzinfo=zone)
    return local.date(), target.astimezone(UTC)


def schedule_thank_you(
    session: Session,
    shop: Shop,
    shopify_customer_id: str,
    visit_at: datetime,
    *,
    source_ref: str | None = None,
    store_name: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue the visit day's thank-you unless one exists, the member has no LINE link, or it is stale."""
    connection = session.get(LineConnection, shop.id)
    if connection is None or not connection.thank_you_enabled:
        return False
    link = session.scalar(
        select(LineLink).where(
            LineLink.shop_id == shop.id, LineLink.shopify_customer_id == str(shopify_customer_id)
        )
    )
    if link is None or link.opted_out_at is not None:
        return False
    visit_day, due = send_time(visit_at, shop.timezone or "Asia/Tokyo", connection.send_at_local)
    if due + STALE_AFTER < (now or utcnow()):
        return False
    return insert_once(
        session,
        {
            "shop_id": shop.id,
            "shopify_customer_id": str(shopify_customer_id),
            "kind": "thank_you",
            "visit_date": visit_day,
            "source_ref": source_ref,
            "store_name": store_name,
            "status": MessageStatus.SCHEDULED,
            "scheduled_for": due,
            "next_attempt_at": due,
            "attempts": 0,
            "retry_key": str(uuid.uuid4()),
            "created_at": utcnow(),
        },
    )


def insert_once(session: Session, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on (shop, customer, kind, visit day): True if a row was added."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(LineMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["shop_id", "shopify_customer_id", "kind", "visit_date"])
        .returning(LineMessage.id)
    )
    # RETURNING, not rowcount: psycopg reports no rowcount for an ORM-executed INSERT ... ON CONFLICT.
    return session.execute(stmt).scalar() is not None


def schedule_from_purchases(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """Scan the shop's new store purchases (Shopify POS and Smaregi alike) and queue thank-yous."""
    connection = session.get(LineConnection, shop.id)
    if connection is None or not connection.thank_you_enabled:
        return 0
    now = now or utcnow()
    since = (connection.purchases_seen_at or now - timedelta(days=1)) - SCAN_OVERLAP
    rows = session.execute(
        select(Purchase, Member.shopify_customer_id)
        .join(Member, Member.id == Purchase.member_id)
        .join(
            LineLink,
            (LineLink.shop_id == Purchase.shop_id)
            & (LineLink.shopify_customer_id == Member.shopify_customer_id),
        )
        .where(
            Purchase.shop_id == shop.id,
            Purchase.created_at >= since,
            Purchase.channel.in_(sorted(STORE_CHANNELS)),
            Purchase.cancelled.is_(False),
            LineLink.opted_out_at.is_(None),
        )
        .order_by(Purchase.processed_at)
    ).all()
    queued = 0
    for purchase, customer_id in rows:
        if customer_id is None:  # never: the join on the LINE link matched the customer id
            continue
        if schedule_thank_you(
            session,
            shop,
            customer_id,
            purchase.processed_at,
            source_ref=f"{purchase.source}:{purchase.source_id}",
            store_name=purchase.location_name,
            now=now,
        ):
            queued += 1
    connection.purchases_seen_at = now
    session.flush()
    return queued
