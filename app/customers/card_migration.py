"""Paper-card migration at the till: staff scan a paper card, the customer proves it is theirs, and the card's
points and history move to the customer's member.

A paper card is an external identity (ExternalLink, source "card", or the Smaregi member whose
customerCode is printed on the card, source "smaregi"); the points and purchases collected with it sit on
the store member behind that link. Migration merges that store member into the customer's member with
merge_members, keyed by the card, so balances come over through the event-time replay exactly once and the
card's history stays as it happened (no synthetic adjustment that could be posted twice).

The second factor is the phone number or email the customer gives, compared with the keyed hashes stored
on the card's member (the app never stores the values). Paper cards carry no PIN in any data the app
receives (Smaregi's customer record has none), so a printed PIN is not a factor here.
"""

from __future__ import annotations

import hmac
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.customers.merges import merge_members
from app.domain.identity import clean_member_number, email_hash, phone_hash
from app.members.identity import hash_key
from app.members.records import active_member
from app.models.integrations import CardLinkAttempt
from app.models.member import ExternalLink, Member, MemberStatus
from app.models.shop import Shop
from app.models.types import utcnow

log = logging.getLogger(__name__)

CARD_SOURCES = ("card", "smaregi")
MAX_FAILURES = 5  # wrong second factors per card per window: phone numbers are guessable, so cap the tries
WINDOW = timedelta(minutes=15)

Outcome = Literal[
    "migrated",  # the card's member is now part of the customer's member
    "already",  # the card already belongs to that member: nothing to do
    "unknown_card",
    "unknown_member",
    "mismatch",  # the phone or email does not match the card's member
    "no_factor",  # the card's member has no phone or email on file to check against
    "limited",  # too many wrong factors for this card lately
    "other_customer",  # the card belongs to another online customer: a Shopify merge, not a till action
]


@dataclass(frozen=True, slots=True)
class Migration:
    outcome: Outcome
    member: Member | None = None  # the member the card belongs to afterwards
    failures_left: int | None = None


def clean_card_code(raw: str) -> str:
    """What a scanner or a person typed: full-width folded (NFKC), no spaces, hyphens kept as printed."""
    return "".join(unicodedata.normalize("NFKC", raw).split())


def migrate_card(
    session: Session,
    shop: Shop,
    *,
    card_code: str,
    factor: str,
    member_number: str,
    actor: str,
    now: datetime | None = None,
) -> Migration:
    """Move a paper card's points and history to the member with `member_number` once the customer's phone
    or email matches the card's member; the caller commits (a refused try is recorded for the limit)."""
    now = now or utcnow()
    link = _card_link(session, shop, clean_card_code(card_code))
    if link is None:
        log.info("card migration refused: unknown card (shop %s, by %s)", shop.id, actor)
        return Migration("unknown_card")
    number = clean_member_number(member_number)
    target = _active_by_number(session, shop, number) if number else None
    if target is None:
        return Migration("unknown_member")
    card_member = active_member(session, session.get(Member, link.member_id))
    if card_member is not None and card_member.id == target.id:
        return Migration("already", target)
    failures = _failures(session, shop, link, now)
    if failures >= MAX_FAILURES:
        log.info("card migration refused: too many tries for card link %s (by %s)", link.id, actor)
        return Migration("limited", failures_left=0)
    if card_member is None:
        return Migration("unknown_card")
    if not (card_member.phone_hash or card_member.email_hash):
        return Migration("no_factor")
    if not _factor_matches(shop, card_member, factor):
        session.add(
            CardLinkAttempt(shop_id=shop.id, shopify_customer_id=_attempt_key(link), attempted_at=now)
        )
        session.flush()
        log.info("card migration refused: second factor did not match card link %s (by %s)", link.id, actor)
        return Migration("mismatch", failures_left=MAX_FAILURES - failures - 1)
    if card_member.shopify_customer_id and target.shopify_customer_id:
        return Migration("other_customer")
    # The Shopify-backed member survives, so its customer id and metafields stay where Shopify has them.
    survivor, merged = (card_member, target) if card_member.shopify_customer_id else (target, card_member)
    merge_members(session, shop, survivor.id, merged.id, key=f"card-migration:{link.id}", now=now)
    link.linked_by = "staff"
    log.info(
        "card migration: card link %s, member %s merged into %s by %s", link.id, merged.id, survivor.id, actor
    )
    return Migration("migrated", survivor)


def _card_link(session: Session, shop: Shop, code: str) -> ExternalLink | None:
    if not code:
        return None
    return session.scalar(
        select(ExternalLink)
        .where(
            ExternalLink.shop_id == shop.id,
            ExternalLink.source.in_(CARD_SOURCES),
            ExternalLink.code == code,
        )
        .order_by(ExternalLink.source)  # "card" before "smaregi" when a number is both
        .limit(1)
    )


def _active_by_number(session: Session, shop: Shop, number: str) -> Member | None:
    row = session.scalar(select(Member).where(Member.shop_id == shop.id, Member.member_number == number))
    member = active_member(session, row)
    return member if member is not None and member.status == MemberStatus.ACTIVE else None


def _attempt_key(link: ExternalLink) -> str:
    """The attempt counter's key for a card: the link id, so neither the card number nor a customer id
    is stored with a failed try (the column also keys the storefront's per-customer attempts)."""
    return f"card:{link.id}"


def _failures(session: Session, shop: Shop, link: ExternalLink, now: datetime) -> int:
    count = session.scalar(
        select(func.count()).where(
            CardLinkAttempt.shop_id == shop.id,
            CardLinkAttempt.shopify_customer_id == _attempt_key(link),
            CardLinkAttempt.attempted_at > now - WINDOW,
        )
    )
    return count or 0


def _factor_matches(shop: Shop, member: Member, factor: str) -> bool:
    """Whether the phone or email the customer gave hashes to what the card's member has on file."""
    key = hash_key()
    text = factor.strip()
    if "@" in text:
        given, stored = email_hash(key, shop.id, text), member.email_hash
    else:
        given, stored = phone_hash(key, shop.id, text), member.phone_hash
    return bool(given and stored) and hmac.compare_digest(str(given), str(stored))
