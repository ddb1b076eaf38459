"""Paper-card linking: a logged-in customer proves a store member record is theirs (card number + phone)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.customers.merges import merge_members
from app.integrations.smaregi.client import SmaregiClient
from app.integrations.smaregi.ingest import ingest_customer, phone_matches
from app.integrations.smaregi.push import member_of
from app.members.identity import member_for_customer
from app.models.integrations import CardLinkAttempt, SmaregiConnection
from app.models.member import IdentityReview, ReviewStatus
from app.models.shop import Shop
from app.models.types import utcnow

LinkOutcome = Literal["linked", "pending", "mismatch", "limited"]
MAX_FAILURES = 5  # per customer per hour: card numbers are short and phones guessable, so cap the guesses
WINDOW = timedelta(hours=1)


def link_paper_card(
    session: Session, shop: Shop, shopify_customer_id: str, card_number: str, phone: str
) -> LinkOutcome:
    """Check the pair against the Smaregi member record; on a match, tie that member to this customer."""
    now = utcnow()
    failures = session.scalar(
        select(func.count()).where(
            CardLinkAttempt.shop_id == shop.id,
            CardLinkAttempt.shopify_customer_id == str(shopify_customer_id),
            CardLinkAttempt.attempted_at > now - WINDOW,
        )
    )
    if (failures or 0) >= MAX_FAILURES:
        return "limited"
    connection = session.get(SmaregiConnection, shop.id)
    code = "".join(card_number.split())
    if connection is None or not code:
        return _mismatch(session, shop, shopify_customer_id, now)
    with SmaregiClient(connection) as client:
        return _link_verified(session, shop, client, shopify_customer_id, code, phone, now)


def _mismatch(session: Session, shop: Shop, shopify_customer_id: str, now: datetime) -> LinkOutcome:
    session.add(
        CardLinkAttempt(shop_id=shop.id, shopify_customer_id=str(shopify_customer_id), attempted_at=now)
    )
    session.flush()
    return "mismatch"


def _link_verified(
    session: Session,
    shop: Shop,
    client: SmaregiClient,
    shopify_customer_id: str,
    code: str,
    phone: str,
    now: datetime,
) -> LinkOutcome:
    record = client.find_customer_by_code(code)
    if record is None or not phone_matches(record, phone):
        return _mismatch(session, shop, shopify_customer_id, now)
    row = ingest_customer(session, shop, client, str(record["customerId"]))
    assert row is not None
    row.shopify_customer_id = str(shopify_customer_id)
    store_member = member_of(session, shop, row)
    customer_member = member_for_customer(session, shop, str(shopify_customer_id))
    if store_member is None or customer_member is None or store_member.id == customer_member.id:
        return "linked"
    if store_member.shopify_customer_id not in (None, str(shopify_customer_id)):
        # The store record already belongs to another online customer: staff decide, never the shopper.
        _review(session, shop, store_member.id, customer_member.id, code)
        return "pending"
    # Card number and phone are the customer's own proof (not a guess from matching contact details), so
    # the store member folds into the customer's member: points, history and rank move with it.
    merge_members(
        session,
        shop,
        customer_member.id,
        store_member.id,
        key=f"card:{row.customer_id}>{shopify_customer_id}",
    )
    return "linked"


def _review(session: Session, shop: Shop, store_member_id: int, customer_member_id: int, code: str) -> None:
    existing = session.scalar(
        select(IdentityReview).where(
            IdentityReview.shop_id == shop.id,
            IdentityReview.member_id == store_member_id,
            IdentityReview.status == ReviewStatus.OPEN,
        )
    )
    if existing is not None:
        existing.candidate_ids = [customer_member_id]
        existing.details = {**(existing.details or {}), "verified_by": "card_and_phone"}
        return
    session.add(
        IdentityReview(
            shop_id=shop.id,
            source="card",
            code=code,
            member_id=store_member_id,
            matched_by="card",
            candidate_ids=[customer_member_id],
            status=ReviewStatus.OPEN,
            details={"verified_by": "card_and_phone"},
        )
    )
    session.flush()
