"""Set-based ingest of Shopify customer snapshots: a chunk of events in a few statements.

`ingest_customers` gives what `apply_customer` gives when the same events are applied one by one in the same
order, but reads the chunk's members, tombstones and store-only contact hashes at once
(app/members/bulk.py), creates the new members in one multi-row insert and lets the session send the
changed rows together. A deletion, or a new customer who may be a store member already (a phone or email
shared with one), goes through `apply_customer` itself, after the members created so far are written.
The caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent
from app.members.birthdays import birthday_field, month_from, record_from_customer
from app.members.bulk import CustomerIndex
from app.members.identity import remember_contact
from app.members.records import active_member, by_shopify_id, touch
from app.models.shop import Shop
from app.models.types import utcnow


def ingest_customers(
    session: Session, shop: Shop, events: Sequence[CustomerEvent], now: datetime | None = None
) -> None:
    """Apply a chunk of customer events, in their order."""
    now = now or utcnow()
    field = birthday_field(shop)
    index = CustomerIndex(session, shop)
    contacts: dict[str, list[tuple[str | None, str | None]]] = defaultdict(list)
    for event in events:
        contacts[str(event.shopify_customer_id)].append((event.email, event.phone))
    index.load(contacts, lock=True)
    for event in events:
        sid = str(event.shopify_customer_id)
        if sid in index.tombstoned:
            continue
        if event.kind != "delete" and _fast(index, sid, event, now, field):
            continue
        # The slow path reads the members table: the members created so far must be in it.
        index.insert_new(now)
        made = {m.id for m in index.new.values() if m.id is not None}
        index.new.clear()
        for member in index.members(made):
            index.rows[str(member.shopify_customer_id)] = member
        apply_customer(session, shop, event, now)
        if event.kind != "delete":
            index.dirty = True  # a store member may have been given this customer id
        row = by_shopify_id(session, shop, sid)
        if row is not None:
            index.rows[sid] = index.by_id[row.id] = row
            index.absent.discard(sid)
    index.insert_new(now)
    session.flush()


def _fast(index: CustomerIndex, sid: str, event: CustomerEvent, now: datetime, field: str) -> bool:
    """Apply a create/update from the index; False when only `apply_customer` can say what happens.

    `field` is the shop's birthday metafield: a month it gives is kept as `apply_customer` keeps it.
    """
    pending = index.new.get(sid)
    if pending is not None:  # created earlier in this chunk, not written yet
        if _older(event.updated_at, pending.customer_updated_at):
            return True
        phone, email = index.hashes(event.email, event.phone)
        changed = False
        for attr, digest in (("phone_hash", phone), ("email_hash", email)):
            if digest and getattr(pending, attr) != digest:  # as `remember_contact`
                setattr(pending, attr, digest)
                changed = True
        month = month_from(index.shop, event, field)
        if month is not None and month != pending.birth_month:  # as `set_birth_month`
            pending.birth_month = month
            changed = True
        pending.sync_version += changed  # as `touch`
        if event.updated_at:
            pending.customer_updated_at = event.updated_at
        return True
    row = index.rows.get(sid)
    if row is not None:
        if _older(event.updated_at, row.customer_updated_at):
            return True
        member = active_member(index.session, row)
        if member is None:
            return True
        if remember_contact(index.shop, member, event.email, event.phone):
            touch(member, now)
        record_from_customer(index.shop, member, event, now, field)
        if event.updated_at:
            row.customer_updated_at = event.updated_at
        return True
    if sid in index.absent:
        phone, email = index.hashes(event.email, event.phone)
        if index.can_create(phone, email):
            created = index.create(sid, phone, email)
            created.customer_updated_at = event.updated_at
            created.birth_month = month_from(index.shop, event, field)
            return True
    return False


def _older(seen: datetime | None, stored: datetime | None) -> bool:
    """An older or equal snapshot of the customer than the one applied (both known)."""
    return bool(seen and stored and seen <= stored)
