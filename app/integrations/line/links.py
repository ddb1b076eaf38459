"""LINE account links: connect a shop's channel, link a LINE user to a customer, opt out and back in."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.line.schedule import insert_once, parse_send_at
from app.integrations.secrets import seal
from app.members.identity import member_for_customer
from app.members.records import touch
from app.models.integrations import LineConnection, LineLink, LineTaggedCustomer, MessageStatus
from app.models.shop import Shop
from app.models.types import utcnow


def connect_line(
    session: Session,
    shop: Shop,
    *,
    channel_secret: str,
    access_token: str,
    bot_basic_id: str | None = None,
    send_at_local: str = "20:00",
    thank_you_enabled: bool = True,
) -> LineConnection:
    """Create or update the shop's LINE channel settings (secrets sealed at rest)."""
    hours_minutes = parse_send_at(send_at_local)
    row = session.get(LineConnection, shop.id) or LineConnection(shop_id=shop.id, messages={})
    row.channel_secret_enc = seal(shop.id, "line_channel_secret", channel_secret)
    row.access_token_enc = seal(shop.id, "line_access_token", access_token)
    row.bot_basic_id = bot_basic_id
    row.send_at_local = hours_minutes.strftime("%H:%M")
    row.thank_you_enabled = thank_you_enabled
    session.add(row)
    session.flush()
    return row


def link_user(
    session: Session,
    shop: Shop,
    shopify_customer_id: str,
    line_user_id: str,
    language: str = "ja",
    now: datetime | None = None,
) -> LineLink:
    """Link (or re-link) a LINE user to a customer; the member's `line_linked` flag follows for the syncer."""
    now = now or utcnow()
    customer_id = str(shopify_customer_id)
    # A LINE user moving to another customer, or a customer changing LINE account: one link each way.
    for stale in session.scalars(
        select(LineLink).where(
            LineLink.shop_id == shop.id,
            (LineLink.line_user_id == line_user_id) | (LineLink.shopify_customer_id == customer_id),
        )
    ):
        if stale.line_user_id != line_user_id or stale.shopify_customer_id != customer_id:
            _set_member_flag(session, shop, stale.shopify_customer_id, False)
            session.delete(stale)
    session.flush()
    link = session.scalar(
        select(LineLink).where(LineLink.shop_id == shop.id, LineLink.line_user_id == line_user_id)
    )
    if link is None:
        link = LineLink(
            shop_id=shop.id, shopify_customer_id=customer_id, line_user_id=line_user_id, linked_at=now
        )
        session.add(link)
    link.linked_at = now  # a link token issued before this moment is spent (line/views.py)
    link.language = language if language in ("ja", "en") else "ja"
    link.opted_out_at = None
    _set_member_flag(session, shop, customer_id, True)
    local_day = now.astimezone(ZoneInfo(shop.timezone or "Asia/Tokyo")).date()
    insert_once(
        session,
        {
            "shop_id": shop.id,
            "shopify_customer_id": customer_id,
            "kind": "link_confirm",
            "visit_date": local_day,
            "status": MessageStatus.SCHEDULED,
            "scheduled_for": now,
            "next_attempt_at": now,
            "attempts": 0,
            "retry_key": str(uuid.uuid4()),
            "created_at": now,
        },
    )
    session.flush()
    return link


def set_opt_out(
    session: Session, shop: Shop, line_user_id: str, opted_out: bool, now: datetime | None = None
) -> bool:
    """Opt a LINE user out of (or back into) messages; True if a link was found."""
    link = session.scalar(
        select(LineLink).where(LineLink.shop_id == shop.id, LineLink.line_user_id == line_user_id)
    )
    if link is None:
        return False
    link.opted_out_at = (now or utcnow()) if opted_out else None
    session.flush()
    return True


def _set_member_flag(session: Session, shop: Shop, shopify_customer_id: str, linked: bool) -> None:
    if not linked and is_tagged(session, shop, shopify_customer_id):
        linked = True  # a LINE CRM app's `line` tag still says so (crm_tags.py)
    member = member_for_customer(session, shop, shopify_customer_id)
    if member is not None and member.line_linked != linked:
        member.line_linked = linked
        touch(member)  # the `line_linked` metafield follows through the syncer


def is_tagged(session: Session, shop: Shop, shopify_customer_id: str) -> bool:
    """Whether the customer carried a `line` tag when the tags were last read (crm_tags.py)."""
    return (
        session.scalar(
            select(LineTaggedCustomer.id).where(
                LineTaggedCustomer.shop_id == shop.id,
                LineTaggedCustomer.shopify_customer_id == str(shopify_customer_id),
            )
        )
        is not None
    )


def sync_member_flag(session: Session, shop: Shop, shopify_customer_id: str) -> None:
    """`line_linked` from what we know now: a LINE link of ours, or a CRM app's `line` tag."""
    linked = session.scalar(
        select(LineLink.id).where(
            LineLink.shop_id == shop.id, LineLink.shopify_customer_id == str(shopify_customer_id)
        )
    )
    _set_member_flag(session, shop, shopify_customer_id, linked is not None)
