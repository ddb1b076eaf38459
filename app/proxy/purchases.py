"""The shopper's purchases on every channel (online and in store), newest first, a page at a time.

Cut on (processed_at, id), the order the (member, processed_at) index reads them in; a store purchase
names its store, an online one says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.dashboard.timeline import Key, above, below, decode_cursor, encode_cursor
from app.domain.channels import STORE_CHANNELS
from app.i18n import format_date, format_money
from app.models.member import Member
from app.models.purchase import Purchase, PurchaseRefund

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    """One purchase as the shopper sees it."""

    day: str
    in_store: bool
    store: str | None
    amount_text: str  # what was paid, less what was returned
    points: int
    refunded: bool
    cancelled: bool


@dataclass(frozen=True, slots=True)
class PurchasePage:
    """One page with cursors to the newer and the older page."""

    lines: list[PurchaseLine]
    newer: str | None
    older: str | None


def _cut(key: Key, older: bool) -> ColumnElement[bool]:
    bound = below if older else above
    return bound(Purchase.processed_at, Purchase.id, key)


def purchases(
    session: Session,
    member: Member,
    currency: str,
    tz: str,
    lang: str,
    *,
    before: str | None = None,
    after: str | None = None,
    size: int = PAGE_SIZE,
) -> PurchasePage:
    """The page older than `before`, or newer than `after`, or the newest page."""
    stmt = select(Purchase).where(Purchase.member_id == member.id)
    older_key, newer_key = decode_cursor(before), decode_cursor(after)
    if newer_key is not None:
        stmt = stmt.where(_cut(newer_key, older=False)).order_by(Purchase.processed_at, Purchase.id)
    else:
        if older_key is not None:
            stmt = stmt.where(_cut(older_key, older=True))
        stmt = stmt.order_by(Purchase.processed_at.desc(), Purchase.id.desc())
    rows = list(session.scalars(stmt.limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    if newer_key is not None:
        rows.reverse()
    refunded: dict[int, Decimal] = {}
    if rows:
        refunded = dict(
            session.execute(  # type: ignore[arg-type]
                select(PurchaseRefund.purchase_id, func.sum(PurchaseRefund.amount))
                .where(PurchaseRefund.purchase_id.in_([p.id for p in rows]))
                .group_by(PurchaseRefund.purchase_id)
            ).all()
        )
    lines = []
    for p in rows:
        returned = Decimal(refunded.get(p.id) or 0)
        net = Decimal(0) if p.cancelled else max(p.gross_amount - returned, Decimal(0))
        lines.append(
            PurchaseLine(
                day=format_date(p.processed_at, tz, lang),
                in_store=p.channel in STORE_CHANNELS,
                store=p.location_name,
                amount_text=format_money(net, p.currency or currency, lang),
                points=p.points,
                refunded=returned > 0,
                cancelled=p.cancelled,
            )
        )
    keys = [(p.processed_at, p.id) for p in rows]
    if newer_key is None:
        newer = encode_cursor(keys[0]) if keys and older_key is not None else None
        older = encode_cursor(keys[-1]) if keys and more else None
    else:
        newer = encode_cursor(keys[0]) if keys and more else None
        older = encode_cursor(keys[-1]) if keys else None
    return PurchasePage(lines, newer, older)
