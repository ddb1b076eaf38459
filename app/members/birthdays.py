"""The member's birth month (1-12), for birthday-month campaigns: from Shopify first, else from the shopper.

Only the month is kept, never the day or year: the app asks for as little protected customer data as it can
(https://shopify.dev/docs/apps/launch/protected-customer-data). The customer's birthday metafield in Shopify
(which one is a shop setting, `members.birthday_metafield`) is trusted most and overrides what is stored; a
customer body without it says nothing, so the month kept stays. The shopper may enter a month on the member
page once, while none is known; changing it afterwards is for staff, or a month changed at will would
collect the birthday bonus every month. A change makes the member due, so the engine revisits it at the
next upkeep.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.domain.events import CustomerEvent
from app.members.records import touch
from app.models.member import Member
from app.models.shop import Shop
from app.shops.rules import load_rules

log = logging.getLogger(__name__)


def birthday_field(shop: Shop) -> str:
    """The `namespace.key` of the customer metafield this shop keeps birthdays in."""
    return load_rules(shop).members.birthday_metafield


def month_from(shop: Shop, event: CustomerEvent, field: str | None = None) -> int | None:
    """The month the event's birthday metafield gives; None when it has none or an unreadable one."""
    field = field or birthday_field(shop)
    for name, month in event.birth_months:
        if name == field:
            if month is None:  # the value is personal data: neither it nor the customer is named
                log.warning("shop %s: a customer's %s metafield is not a date; ignored", shop.id, field)
            return month
    return None


def set_birth_month(member: Member, month: int, now: datetime) -> bool:
    """Store the month and make the member due for a replay; True when it changed."""
    if not 1 <= month <= 12:
        raise ValueError("birth month must be 1..12")
    if member.birth_month == month:
        return False
    member.birth_month = month
    touch(member, now)
    if member.next_due_at is None or member.next_due_at > now:
        member.next_due_at = now
    return True


def record_from_customer(
    shop: Shop, member: Member, event: CustomerEvent, now: datetime, field: str | None = None
) -> bool:
    """Take the month of a Shopify customer snapshot when it carries the shop's birthday metafield."""
    month = month_from(shop, event, field)
    return month is not None and set_birth_month(member, month, now)


def claim_birth_month(member: Member, month: int, now: datetime) -> bool:
    """The shopper's own month, taken only while none is known; False when one is (staff change it)."""
    if member.birth_month is not None:
        return False
    return set_birth_month(member, month, now)
