"""Customer events: Shopify customers become members; Smaregi members are linked to them; merges fold in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.customers.merges import merge_members
from app.domain.events import CustomerEvent, CustomerMergeEvent, ExternalMemberEvent
from app.members.birthdays import record_from_customer
from app.members.identity import (
    find_link,
    is_tombstoned,
    link_external,
    member_for_customer,
    remember_contact,
)
from app.members.records import active_member, by_shopify_id, create_member, lock_member, touch
from app.models.member import Member, MemberStatus
from app.models.shop import Shop
from app.models.types import utcnow


def apply_customer(
    session: Session, shop: Shop, event: CustomerEvent, now: datetime | None = None
) -> Member | None:
    """Create or update the member of a Shopify customer (hashed phone/email only); delete retires it."""
    now = now or utcnow()
    if is_tombstoned(session, shop, event.shopify_customer_id):
        return None
    row = by_shopify_id(session, shop, event.shopify_customer_id)
    if event.kind == "delete":
        if row is not None and row.status == MemberStatus.ACTIVE:
            row = lock_member(session, row.id)
            # History stays (no personal data in it) until a customers/redact asks for erasure.
            row.status = MemberStatus.DELETED
            touch(row, now)
        return None
    if row is not None:
        row = lock_member(session, row.id)
        if event.updated_at and row.customer_updated_at and event.updated_at <= row.customer_updated_at:
            return active_member(session, row)  # an older snapshot of the customer
        member = active_member(session, row)
        if member is None:
            return None
        if remember_contact(shop, member, event.email, event.phone):
            touch(member, now)
    else:
        member = member_for_customer(
            session, shop, event.shopify_customer_id, email=event.email, phone=event.phone
        )
        if member is None:
            return None
        row = member
    record_from_customer(shop, member, event, now)
    if event.updated_at:
        row.customer_updated_at = event.updated_at
    session.flush()
    return member


def apply_merge(
    session: Session, shop: Shop, event: CustomerMergeEvent, now: datetime | None = None
) -> Member | None:
    """Shopify `customers/merge`: fold the merged customers' members into the survivor's and recompute."""
    now = now or utcnow()
    survivor = member_for_customer(session, shop, event.surviving_id)
    if survivor is None:
        return None
    for merged_id in event.merged_ids:
        row = by_shopify_id(session, shop, merged_id)
        if row is None:
            # Not a member yet: a forwarding row, so a late order of that customer credits the survivor.
            row = create_member(session, shop, str(merged_id))
            row.status, row.merged_into_id = MemberStatus.MERGED, survivor.id
            continue
        if row.status != MemberStatus.ACTIVE:
            continue  # merged already (a re-delivery)
        merge_members(
            session, shop, survivor.id, row.id, key=f"shopify:{merged_id}>{event.surviving_id}", now=now
        )
    return survivor


def apply_external_member(
    session: Session, shop: Shop, event: ExternalMemberEvent, now: datetime | None = None
) -> Member | None:
    """A Smaregi member: linked by member number, then phone, then email (ambiguous -> review)."""
    now = now or utcnow()
    if event.kind == "delete":
        link = find_link(session, shop, event.source, external_id=event.external_id, code=event.external_code)
        if link is not None:
            member = session.get(Member, link.member_id)
            session.delete(link)
            if member is not None:
                touch(member, now)
        return None
    member = link_external(
        session,
        shop,
        event.source,
        external_id=event.external_id,
        code=event.external_code,
        email=event.email,
        phone=event.phone,
    )
    # Only a store-only member takes the POS's contact details; a Shopify customer's come from Shopify.
    if member.shopify_customer_id is None and remember_contact(shop, member, event.email, event.phone):
        touch(member, now)
    session.flush()
    return member
