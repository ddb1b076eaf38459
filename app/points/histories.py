"""Members' histories as stored, read set-based for the replay: purchases with refunds, point movements.

A few statements per chunk of members (never one per purchase); the engine (app/points/engine.py) and the
campaign preview (app/points/campaigns.py) read through here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.replay import MOVEMENT_KINDS, MovementIn, PurchaseIn, RefundIn
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.purchase import Purchase, PurchaseRefund


@dataclass(slots=True)
class History:
    """One member's inputs as stored."""

    purchases: list[PurchaseIn]
    purchase_ids: dict[str, int]
    terms: dict[str, tuple[str | None, Decimal, int, int]]  # stored rank, multiplier, points, rules version
    movements: list[MovementIn]


def load_histories(session: Session, ids: list[int]) -> dict[int | None, History]:
    """Purchases, refunds and movements of the members, in three statements."""
    refunds: dict[int | None, list[RefundIn]] = defaultdict(list)
    refund_rows = session.execute(
        select(
            PurchaseRefund.purchase_id,
            PurchaseRefund.source,
            PurchaseRefund.source_id,
            PurchaseRefund.amount,
            PurchaseRefund.processed_at,
        )
        .join(Purchase, Purchase.id == PurchaseRefund.purchase_id)
        .where(Purchase.member_id.in_(ids))
    )
    for purchase_id, source, source_id, amount, processed_at in refund_rows:
        refunds[purchase_id].append(RefundIn(source, source_id, amount, processed_at))
    histories: dict[int | None, History] = defaultdict(lambda: History([], {}, {}, []))
    purchase_rows = session.execute(
        select(
            Purchase.id,
            Purchase.member_id,
            Purchase.source,
            Purchase.source_id,
            Purchase.processed_at,
            Purchase.gross_amount,
            Purchase.earn_rate,
            Purchase.channel,
            Purchase.cancelled,
            Purchase.cancelled_at,
            Purchase.source_updated_at,
            Purchase.earn_rank,
            Purchase.earn_multiplier,
            Purchase.points,
            Purchase.rules_version,
            Purchase.location_key,
        ).where(Purchase.member_id.in_(ids))
    )
    for row in purchase_rows:
        cancelled_at = (row.cancelled_at or row.source_updated_at) if row.cancelled else None
        refund_list = sorted(refunds.get(row.id, []), key=lambda r: (r.processed_at, r.source_id))
        p = PurchaseIn(
            row.source,
            row.source_id,
            row.processed_at,
            row.gross_amount,
            row.earn_rate,
            row.channel,
            cancelled_at,
            tuple(refund_list),
            row.location_key,
        )
        history = histories[row.member_id]
        history.purchases.append(p)
        history.purchase_ids[p.key] = row.id
        history.terms[p.key] = (row.earn_rank, row.earn_multiplier, row.points, row.rules_version)
    for member_id, move in _load_movements(session, ids):
        histories[member_id].movements.append(move)
    for history in histories.values():
        history.purchases.sort(key=lambda p: (p.processed_at, p.key))
    return histories


def _load_movements(session: Session, ids: list[int]) -> Iterator[tuple[int | None, MovementIn]]:
    """Spends, staff adjustments, reward-code steps and opening balances, with their size from the legs."""
    rows = session.execute(
        select(
            LedgerTransaction.member_id,
            LedgerTransaction.source,
            LedgerTransaction.source_id,
            LedgerTransaction.kind,
            LedgerTransaction.effective_at,
            LedgerTransaction.expires_at,
            LedgerPosting.account,
            LedgerPosting.member_id,
            LedgerPosting.points,
        )
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.member_id.in_(ids), LedgerTransaction.kind.in_(MOVEMENT_KINDS))
        .order_by(LedgerTransaction.id)
    )
    sizes: dict[tuple[int | None, str, str, str], tuple[datetime, datetime | None, int]] = {}
    for member_id, source, source_id, kind, at, expires_at, account, leg_member, points in rows:
        key = (member_id, source, source_id, kind)
        size = sizes.get(key, (at, expires_at, 0))[2]
        if _is_size_leg(kind, account, leg_member is not None):
            size += points if kind in ("opening", "adjust", "hold") else -points
        sizes[key] = (at, expires_at, size)
    for (member_id, source, source_id, kind), (at, expires_at, size) in sizes.items():
        yield member_id, MovementIn(source, source_id, kind, at, size, expires_at)


def _is_size_leg(kind: str, account: str, mine: bool) -> bool:
    """The leg that says a movement's size: available for spends/grants, held for holds and releases."""
    if kind in ("hold", "capture", "release"):
        return account == "held" and mine
    return account == "available" and mine
