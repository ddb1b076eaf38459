"""The store side's part of customers/data_request and customers/redact (LINE link, outbox, Smaregi ids)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.models.integrations import (
    CardLinkAttempt,
    LineLink,
    LineLinkNonce,
    LineMessage,
    LineTaggedCustomer,
    SmaregiCustomer,
    SmaregiTransaction,
)
from app.models.shop import Shop


def export_store_customer(session: Session, shop: Shop, shopify_customer_id: str) -> dict[str, Any]:
    """What the store side holds about one customer, JSON-able."""
    customer_id = str(shopify_customer_id)
    link = session.scalar(
        select(LineLink).where(LineLink.shop_id == shop.id, LineLink.shopify_customer_id == customer_id)
    )
    messages = session.scalars(
        select(LineMessage)
        .where(LineMessage.shop_id == shop.id, LineMessage.shopify_customer_id == customer_id)
        .order_by(LineMessage.id)
    ).all()
    smaregi = session.scalars(
        select(SmaregiCustomer.customer_id).where(
            SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.shopify_customer_id == customer_id
        )
    ).all()
    return {
        "line": None
        if link is None
        else {
            "line_user_id": link.line_user_id,
            "linked_at": link.linked_at.isoformat(),
            "opted_out_at": link.opted_out_at.isoformat() if link.opted_out_at else None,
        },
        "line_messages": [
            {
                "kind": m.kind,
                "visit_date": m.visit_date.isoformat(),
                "status": m.status,
                "store": m.store_name,
            }
            for m in messages
        ],
        "smaregi_member_ids": list(smaregi),
    }


def redact_store_customer(session: Session, shop: Shop, shopify_customer_id: str) -> None:
    """Delete the customer's LINE link and messages, card attempts, and our Smaregi id mapping."""
    customer_id = str(shopify_customer_id)
    smaregi_ids = session.scalars(
        select(SmaregiCustomer.customer_id).where(
            SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.shopify_customer_id == customer_id
        )
    ).all()
    for model in (LineLink, LineMessage, CardLinkAttempt, LineLinkNonce, LineTaggedCustomer):
        session.execute(
            delete(model)
            .where(model.shop_id == shop.id, model.shopify_customer_id == customer_id)
            .execution_options(synchronize_session=False)
        )
    if smaregi_ids:
        # Receipts stay for the shop's totals, no longer naming the member.
        session.execute(
            update(SmaregiTransaction)
            .where(SmaregiTransaction.shop_id == shop.id, SmaregiTransaction.customer_id.in_(smaregi_ids))
            .values(customer_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(SmaregiCustomer)
            .where(SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.customer_id.in_(smaregi_ids))
            .execution_options(synchronize_session=False)
        )
    session.flush()
