"""Members as the register sees them: found by a scanned card, a member number or a phone; summarised as JSON.

Lookups go through app/members/search.py (member number with its check digit, phone normalised and hashed
exactly as at ingest; the phone itself is never stored or logged). A scanned code that is not a member number
may be a paper card (an ExternalLink of source card/smaregi, app/customers/card_migration.py): it leads to
the member the card's points sit on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.customers.card_migration import CARD_SOURCES, clean_card_code
from app.domain.progress import progress
from app.members import search
from app.members.records import active_member, member_facts
from app.models.member import ExternalLink, Member, MemberStatus
from app.models.shop import Shop
from app.proxy.card import expiring
from app.shops.rules import load_rules

LookupBy = Literal["code", "member_number", "phone"]
MAX_RESULTS = 10  # a shared family phone can match a few members; the register shows them to choose


def find(session: Session, shop: Shop, by: LookupBy, value: str) -> list[Member]:
    """Active members of `shop` for a scanned code, a typed member number or a phone number."""
    if by == "phone":
        if search.classify(value) != "phone":
            return []
        return search.search(session, shop, value).members[:MAX_RESULTS]
    if search.classify(value) == "member_number":
        found = search.search(session, shop, value).members
        if found or by == "member_number":
            return found[:MAX_RESULTS]
    if by != "code":
        return []
    member = _by_card(session, shop, clean_card_code(value))
    return [member] if member is not None else []


def _by_card(session: Session, shop: Shop, code: str) -> Member | None:
    if not code:
        return None
    link = session.scalar(
        select(ExternalLink)
        .where(
            ExternalLink.shop_id == shop.id, ExternalLink.source.in_(CARD_SOURCES), ExternalLink.code == code
        )
        .order_by(ExternalLink.source)
        .limit(1)
    )
    member = active_member(session, session.get(Member, link.member_id)) if link is not None else None
    return member if member is not None and member.status == MemberStatus.ACTIVE else None


def by_number(session: Session, shop: Shop, number: str) -> Member | None:
    """The active member of `shop` with this member number (None for another shop's or an unknown one)."""
    found = find(session, shop, "member_number", number)
    return found[0] if found else None


def customer_number(member: Member) -> int | None:
    """The member's Shopify customer id as POS's Cart API takes it (a number), None without a customer."""
    raw = member.shopify_customer_id or ""
    return int(raw) if raw.isdigit() else None


def summary(session: Session, shop: Shop, member: Member, now: datetime) -> dict[str, Any]:
    """What the register shows: number, rank and the progress to the next one, points, LINE link."""
    rules = load_rules(shop)
    tz = shop.timezone or "Asia/Tokyo"
    p = progress(member_facts(session, member), rules.ranks, rules.points.rate, member.rank, now, tz)
    soon, first = expiring(session, shop, member, now)
    return {
        "member_number": member.member_number,
        "rank": member.rank,
        "points": {
            "available": member.points_available,
            "pending": member.points_pending,
            "expiring_soon": soon,
            "expiring_on": first.astimezone(ZoneInfo(tz)).date().isoformat() if first else None,
        },
        "progress": {
            "basis": p.basis,
            "current": p.current,
            "next": p.next,
            "value": str(p.value),
            "remaining": None if p.remaining is None else str(p.remaining),
            "share": round(p.share, 4),
            "window": p.window,
        },
        "line_linked": bool(member.line_linked),
        # The numeric Shopify customer id: the extension puts the customer on the cart (cart.setCustomer), as
        # the points' discount code is bound to that customer. None for a store-only member.
        "customer_id": customer_number(member),
        "currency": shop.currency or "JPY",
    }
