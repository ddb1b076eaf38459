"""Rows for dashboard tests, written directly: these tests check aggregates, not how events become rows."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from app.domain.identity import damm_check_digit
from app.models.member import Member
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop
from app.models.shop_jobs import BackfillJob

_seq = itertools.count(1)


def _number(n: int) -> str:
    """A member number with a valid check digit (searches recognise only those)."""
    body = f"{n:011d}"
    return body + damm_check_digit(body)


def member(session, shop: Shop, rank: str = "regular", **fields) -> Member:
    """An active member with a unique member number."""
    n = next(_seq)
    row = Member(
        shop_id=shop.id,
        shopify_customer_id=fields.pop("shopify_customer_id", str(1000 + n)),
        member_number=fields.pop("member_number", _number(n)),
        rank=rank,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def purchase(
    session, shop: Shop, who: Member, amount: str, at: datetime, channel: str = "online", **fields
) -> Purchase:
    """A purchase of `who` (a store name for store channels unless given)."""
    n = next(_seq)
    if channel in ("pos", "external_pos"):
        fields.setdefault("location_name", "渋谷店")
        fields.setdefault("location_key", "shopify:1")
    row = Purchase(
        shop_id=shop.id,
        member_id=who.id,
        source="shopify" if channel != "external_pos" else "smaregi",
        source_id=str(5000 + n),
        channel=channel,
        currency=shop.currency,
        gross_amount=Decimal(amount),
        items_count=1,
        processed_at=at,
        source_updated_at=at,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def refund(session, shop: Shop, of: Purchase, amount: str, at: datetime) -> PurchaseRefund:
    """A refund of a purchase."""
    n = next(_seq)
    row = PurchaseRefund(
        shop_id=shop.id,
        purchase_id=of.id,
        source=of.source,
        source_id=str(9000 + n),
        order_source_id=of.source_id,
        amount=Decimal(amount),
        processed_at=at,
    )
    session.add(row)
    session.flush()
    return row


def history_imported(session, shop: Shop) -> None:
    """The shop's install history import, finished (a month closes only after it)."""
    for kind in ("customers", "orders"):
        session.add(BackfillJob(shop_id=shop.id, kind=kind, status="done", total=0, done=0))
    session.flush()
