"""Smaregi records -> domain services: transactions as purchases/refunds, members as external members.

Every record is fetched by id (webhooks carry ids only) and applied as its newest state; the domain keeps the
newest snapshot per receipt and each refund once, so duplicates and reordering end in the same points.
What could not be applied is kept in `smaregi_transactions` with a status staff can see.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.customers.events import apply_external_member
from app.domain.identity import normalise_phone
from app.integrations.smaregi.client import SmaregiClient
from app.integrations.smaregi.mapping import (
    TransactionFacts,
    member_event,
    purchase_event,
    read_transaction,
    refund_event,
)
from app.integrations.smaregi.push import member_of
from app.integrations.smaregi.register_points import apply_register_points
from app.members.records import touch
from app.models.integrations import (
    SmaregiCustomer,
    SmaregiStore,
    SmaregiTransaction,
    StoreStatus,
    TransactionStatus,
)
from app.models.member import Member
from app.models.purchase import Purchase
from app.models.shop import Shop
from app.models.types import utcnow
from app.points.purchases import apply_purchase, apply_refund

log = logging.getLogger(__name__)


def store_name(session: Session, shop: Shop, client: SmaregiClient, store_id: str | None) -> str | None:
    """The store's name from the map, asking Smaregi the first time; an unknown id is kept as unmapped."""
    if not store_id:
        return None
    row = session.scalar(
        select(SmaregiStore).where(SmaregiStore.shop_id == shop.id, SmaregiStore.store_id == store_id)
    )
    if row is not None and row.status == StoreStatus.MAPPED:
        return row.name
    store = client.get_store(store_id)
    was_unmapped = row is not None
    if row is None:
        row = SmaregiStore(shop_id=shop.id, store_id=store_id)
        session.add(row)
    if store and store.get("storeName"):
        row.name, row.status = str(store["storeName"]), StoreStatus.MAPPED
        if was_unmapped:
            _name_earlier_sales(session, shop, store_id, row.name)
    else:
        # Credit the sale anyway (no loss); staff see the unmapped store and the next sale asks again.
        row.status = StoreStatus.UNMAPPED
    session.flush()
    return row.name


def _name_earlier_sales(session: Session, shop: Shop, store_id: str, name: str) -> None:
    """Sales credited while the store was unknown get its name now (history and metafields follow)."""
    key = f"smaregi:{store_id}"  # app/domain/channels.py: the location key of a Smaregi store
    unnamed = session.scalars(
        select(Purchase).where(
            Purchase.shop_id == shop.id, Purchase.location_key == key, Purchase.location_name.is_(None)
        )
    ).all()
    for purchase in unnamed:
        purchase.location_name = name
    for member_id in {p.member_id for p in unnamed}:
        member = session.get(Member, member_id)
        if member is not None:
            touch(member)


def ingest_customer(
    session: Session, shop: Shop, client: SmaregiClient, customer_id: str, deleted: bool = False
) -> SmaregiCustomer | None:
    """Fetch one member and hand it to identity (member number/code, then phone, then email)."""
    row = session.scalar(
        select(SmaregiCustomer).where(
            SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.customer_id == customer_id
        )
    )
    record = None if deleted else client.get_customer(customer_id)
    if record is None:
        if row is not None:
            row.deleted = True  # keep the link and history; a deleted register member earns nothing new
        return row
    apply_external_member(session, shop, member_event(record, shop.domain))
    if row is None:
        row = SmaregiCustomer(shop_id=shop.id, customer_id=customer_id)
        session.add(row)
    row.customer_code = str(record.get("customerCode") or "") or None
    row.deleted = False
    row.push_due = True
    session.flush()
    return row


def ingest_transaction(
    session: Session, shop: Shop, client: SmaregiClient, head_id: str
) -> SmaregiTransaction | None:
    """Fetch one transaction by id and apply it; None if Smaregi no longer has it."""
    tx = client.get_transaction(head_id)
    if tx is None:
        log.info("smaregi transaction %s not found; nothing to apply", head_id)
        return None
    return apply_transaction(session, shop, client, tx)


def apply_transaction(
    session: Session, shop: Shop, client: SmaregiClient, tx: dict[str, Any]
) -> SmaregiTransaction:
    """Apply one fetched transaction (sale, edit, void, return) and record what happened."""
    facts = read_transaction(tx)
    row = _log_row(session, shop, facts)
    if row.upd_at is not None and row.status == TransactionStatus.APPLIED and facts.updated_at < row.upd_at:
        return row  # an older snapshot than one already applied: the domain would ignore it too
    customer = _ensure_customer(session, shop, client, facts)
    if customer is not None and customer.customer_code and not facts.customer_code:
        # Some receipts carry only customerId: the member record we fetched has the code.
        facts = replace(facts, customer_code=customer.customer_code)
    name = store_name(session, shop, client, facts.store_id)
    status, detail = TransactionStatus.APPLIED, None
    if facts.kind in ("sale", "void") and not facts.customer_code:
        # A walk-in sale earns nobody anything; if staff attach a member later, the edit webhook brings it.
        status = TransactionStatus.NO_CUSTOMER
    elif facts.kind in ("sale", "void"):
        apply_purchase(session, shop, purchase_event(facts, shop.domain, shop.currency, name))
    elif facts.kind in ("return", "cancel") and facts.refers_to:
        original = _ensure_original(session, shop, client, facts.refers_to)
        apply_refund(session, shop, refund_event(facts, shop.domain, original))
    elif facts.kind == "return":
        # A return rung without the original receipt cannot be tied to a purchase: kept for staff.
        status, detail = (
            TransactionStatus.UNREFERENCED_RETURN,
            "return without disposeServerTransactionHeadId",
        )
    else:
        status, detail = (
            TransactionStatus.IGNORED,
            f"transactionHeadDivision {tx.get('transactionHeadDivision')}",
        )
    if status == TransactionStatus.APPLIED and customer is not None:
        row.spend_points = facts.spend_points if facts.kind == "sale" else row.spend_points or 0
        detail = apply_register_points(session, shop, facts, member_of(session, shop, customer)) or detail
    row.status, row.detail = status, detail
    row.upd_at = facts.updated_at
    if customer is not None:
        customer.push_due = True
    session.flush()
    return row


def _log_row(session: Session, shop: Shop, facts: TransactionFacts) -> SmaregiTransaction:
    row = session.scalar(
        select(SmaregiTransaction).where(
            SmaregiTransaction.shop_id == shop.id,
            SmaregiTransaction.transaction_head_id == facts.transaction_head_id,
        )
    )
    if row is None:
        row = SmaregiTransaction(
            shop_id=shop.id, transaction_head_id=facts.transaction_head_id, status=TransactionStatus.NEW
        )
        session.add(row)
    row.customer_id, row.store_id, row.kind = facts.customer_id, facts.store_id, facts.kind
    row.refers_to, row.amount, row.transacted_at = facts.refers_to, str(facts.total), facts.transacted_at
    row.updated_at = utcnow()
    return row


def _ensure_customer(
    session: Session, shop: Shop, client: SmaregiClient, facts: TransactionFacts
) -> SmaregiCustomer | None:
    """Make sure the member behind a sale went through identity once (so phone/email matching happens)."""
    if not facts.customer_id:
        return None
    row = session.scalar(
        select(SmaregiCustomer).where(
            SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.customer_id == facts.customer_id
        )
    )
    return row if row is not None else ingest_customer(session, shop, client, facts.customer_id)


def _ensure_original(session: Session, shop: Shop, client: SmaregiClient, head_id: str) -> Decimal | None:
    """A return can arrive before (or without) its sale's webhook: fetch and apply the sale first."""
    row = session.scalar(
        select(SmaregiTransaction).where(
            SmaregiTransaction.shop_id == shop.id, SmaregiTransaction.transaction_head_id == head_id
        )
    )
    if row is None or row.status not in (TransactionStatus.APPLIED,):
        row = ingest_transaction(session, shop, client, head_id)
    return Decimal(row.amount) if row is not None else None


def phone_matches(record: dict[str, Any], typed: str) -> bool:
    """Whether a typed phone number is one of the member record's numbers (any Japanese notation)."""
    wanted = normalise_phone(typed)
    if wanted is None:
        return False
    return any(
        normalise_phone(p) == wanted for p in (record.get("mobileNumber"), record.get("phoneNumber")) if p
    )
