"""What the member card shows: number, rank, points (available, pending, expiring soon), reward codes, store
purchases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.campaigns.codes import active_codes, label
from app.domain.channels import STORE_CHANNELS
from app.i18n import format_date, format_money
from app.members.projection import points_expire_at, points_expiring_by
from app.members.records import member_facts
from app.models.member import Member
from app.models.shop import Shop
from app.points.ledger import member_lots
from app.shops.rules import load_rules

EXPIRING_WINDOW = timedelta(days=30)
PURCHASES_SHOWN = 20


@dataclass(frozen=True, slots=True)
class StorePurchase:
    """One store purchase line on the card."""

    day: str
    store: str | None
    amount: Decimal
    amount_text: str
    points: int
    refunded: bool


@dataclass(frozen=True, slots=True)
class RewardCode:
    """An open campaign reward code: the code, what it gives, and its last day."""

    code: str
    reward: str
    until: str


@dataclass(frozen=True, slots=True)
class CardView:
    """Everything the card template renders."""

    member_number: str
    rank: str
    points_available: int
    points_pending: int
    expiring_points: int
    expiring_on: str | None
    store_purchases: list[StorePurchase]
    reward_codes: list[RewardCode]


def expiring(session: Session, shop: Shop, member: Member, now: datetime) -> tuple[int, datetime | None]:
    """Points that expire within 30 days, and the earliest such date (0, None when none do)."""
    lots = member_lots(session, member)
    rules = load_rules(shop)
    first = points_expire_at(member, lots, rules)
    if first is None or first > now + EXPIRING_WINDOW:
        return 0, None
    soon = points_expiring_by(lots, now + EXPIRING_WINDOW)
    return min(soon, max(member.points_available, 0)), first


def card_view(session: Session, shop: Shop, member: Member, now: datetime, locale: str = "ja") -> CardView:
    """Assemble the card for one member, money and dates written as the shopper's language does."""
    tz = shop.timezone or "Asia/Tokyo"
    points, expires_on = expiring(session, shop, member, now)
    facts = [f for f in member_facts(session, member) if f.channel in STORE_CHANNELS]
    facts.sort(key=lambda f: f.processed_at, reverse=True)
    purchases = [
        StorePurchase(
            day=format_date(f.processed_at, tz, locale),
            store=f.location_name,
            amount=f.net,
            amount_text=format_money(f.net, shop.currency or "JPY", locale),
            points=f.points,
            refunded=f.refunded > 0,
        )
        for f in facts[:PURCHASES_SHOWN]
    ]
    codes = [
        RewardCode(
            code=str(award.code),
            reward=label(campaign, shop.currency or "JPY", locale),
            until=format_date(award.code_expires_at, tz, locale),
        )
        for award, campaign in active_codes(session, member, now)
    ]
    return CardView(
        member_number=member.member_number,
        rank=member.rank,
        points_available=member.points_available,
        points_pending=member.points_pending,
        expiring_points=points,
        expiring_on=format_date(expires_on, tz, locale) if expires_on else None,
        store_purchases=purchases,
        reward_codes=codes,
    )
