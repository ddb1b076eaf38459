"""Posting to the points ledger: balanced transactions and the members' cached balances.

Movements people make (spends, staff adjustments, reward-code steps, opening balances) are posted here;
what purchases imply is derived by the member's replay (app/points/engine.py). Runs inside the caller's
transaction with the member row locked; a transaction key (shop, source, source_id, kind) that exists
already makes the call a no-op.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.models.ledger import LedgerPosting, LedgerTransaction, PointLot
from app.models.member import Member

Leg = tuple[str, int | None, int]  # (account, member id or None for a shop account, points)


def transaction_exists(session: Session, shop_id: int, source: str, source_id: str, kind: str) -> bool:
    """Whether this idempotency key was already used."""
    stmt = select(LedgerTransaction.id).where(
        LedgerTransaction.shop_id == shop_id,
        LedgerTransaction.source == source,
        LedgerTransaction.source_id == source_id,
        LedgerTransaction.kind == kind,
    )
    return session.scalar(stmt) is not None


def post(
    session: Session,
    shop_id: int,
    member: Member | None,
    *,
    source: str,
    source_id: str,
    kind: str,
    legs: list[Leg],
    effective_at: datetime,
    purchase_id: int | None = None,
    reason: str | None = None,
    fresh: bool = False,
    expires_at: datetime | None = None,
) -> LedgerTransaction | None:
    """Record one balanced transaction and update the cached member balances; None if the key exists.

    `fresh`: the caller knows the key is new (made under the member lock), so the look-up is skipped; the
    unique constraint still guards it.
    """
    if not fresh and transaction_exists(session, shop_id, source, source_id, kind):
        return None
    merged: dict[tuple[str, int | None], int] = defaultdict(int)
    for account, member_id, points in legs:
        merged[(account, member_id)] += points
    if sum(merged.values()) != 0:
        raise ValueError(f"unbalanced ledger transaction {kind}: {dict(merged)}")
    txn = LedgerTransaction(
        shop_id=shop_id,
        member_id=member.id if member else None,
        purchase_id=purchase_id,
        source=source,
        source_id=str(source_id),
        kind=kind,
        reason=reason,
        effective_at=effective_at,
        expires_at=expires_at,
    )
    balances: dict[int, dict[str, int]] = defaultdict(dict)
    for (account, member_id), points in merged.items():
        if points == 0:
            continue
        txn.postings.append(
            LedgerPosting(shop_id=shop_id, member_id=member_id, account=account, points=points)
        )
        if member_id is not None:
            balances[member_id][f"points_{account}"] = points
    session.add(txn)
    session.flush()
    for member_id, deltas in balances.items():
        add_to_balances(
            session, member if member is not None and member.id == member_id else None, member_id, deltas
        )
    return txn


def add_to_balances(session: Session, member: Member | None, member_id: int, deltas: dict[str, int]) -> None:
    """Move the cached balances by `deltas` in the database row itself (SET x = x + n), never by writing a
    value computed from an earlier read: a copy loaded before the member lock cannot undo someone else's
    posting. The loaded member (if any) is given the row's new values.
    """
    columns = [getattr(Member, name) for name in deltas]
    stmt = (
        update(Member)
        .where(Member.id == member_id)
        .values({name: getattr(Member, name) + points for name, points in deltas.items()})
        .returning(*columns)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(stmt).one()
    owner = member if member is not None else session.identity_map.get(identity_key(Member, member_id))
    if owner is not None:
        for name, value in zip(deltas, row, strict=True):
            set_committed_value(owner, name, value)


def member_lots(session: Session, member: Member) -> list[PointLot]:
    """The member's lots, oldest first."""
    stmt = (
        select(PointLot)
        .where(PointLot.member_id == member.id)
        .order_by(PointLot.earned_at, PointLot.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))
