"""Posting to the points ledger: balanced transactions, lots, debts, and the debit policy for refunds.

Every function here runs inside the caller's transaction with the member row locked (members.lock_member).
A transaction key (shop, source, source_id, kind) that exists already makes the call a no-op.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.domain.points import LotView, draw_oldest_first, expiry_due
from app.domain.settings import PointRules
from app.models.ledger import LedgerPosting, LedgerTransaction, PointLot
from app.models.member import Member
from app.models.purchase import Purchase

Leg = tuple[str, int | None, int]  # (account, member id or None for a shop account, points)


@dataclass(frozen=True, slots=True)
class Entry:
    """A member's transaction to post: its key (source, source_id, kind), when it takes effect, and why."""

    source: str
    source_id: str
    kind: str
    effective_at: datetime
    reason: str | None = None


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


def lot_view(lot: PointLot) -> LotView:
    """What the domain's allocation functions see of a lot."""
    return LotView(lot.id, lot.earned_at, lot.pending, lot.remaining, lot.expired_at is not None)


def repay_debt(member: Member, lots: list[PointLot]) -> None:
    """New available points first cover a negative balance (the sub-ledger of lots follows; no posting)."""
    if member.points_debt <= 0:
        return
    by_id = {lot.id: lot for lot in lots}
    for lot_id, take in draw_oldest_first([lot_view(lot) for lot in lots], member.points_debt):
        by_id[lot_id].remaining -= take
        member.points_debt -= take


def _lots_unless_posted(
    session: Session, member: Member, entry: Entry, lots: list[PointLot] | None, fresh: bool
) -> list[PointLot] | None:
    """The lots to post `entry` against, or None when its key was used already (`fresh`: it is new)."""
    if not fresh and transaction_exists(session, member.shop_id, entry.source, entry.source_id, entry.kind):
        return None
    return member_lots(session, member) if lots is None else lots


def _post_entry(
    session: Session, member: Member, entry: Entry, legs: list[Leg], purchase_id: int | None
) -> None:
    """Post `entry` for the member; its key is new (checked, or made, under the member lock)."""
    post(
        session,
        member.shop_id,
        member,
        source=entry.source,
        source_id=entry.source_id,
        kind=entry.kind,
        purchase_id=purchase_id,
        legs=legs,
        effective_at=entry.effective_at,
        reason=entry.reason,
        fresh=True,
    )


def credit(
    session: Session,
    member: Member,
    purchase: Purchase,
    points: int,
    entry: Entry,
    *,
    matures_at: datetime,
    lots: list[PointLot] | None = None,
    fresh: bool = False,
) -> None:
    """Add points for an order to its open lot (pending until it matures, else available)."""
    lots = _lots_unless_posted(session, member, entry, lots, fresh)
    if lots is None:
        return
    lot = next((x for x in lots if x.purchase_id == purchase.id and x.expired_at is None), None)
    if lot is None:
        # A lot re-opened after its first one expired ages from now, so it does not expire on creation.
        reopened = any(x.purchase_id == purchase.id for x in lots)
        earned_at = max(purchase.processed_at, entry.effective_at) if reopened else purchase.processed_at
        lot = PointLot(
            shop_id=member.shop_id,
            member_id=member.id,
            purchase_id=purchase.id,
            earned_at=earned_at,
            matures_at=matures_at,
            pending=0,
            remaining=0,
        )
        session.add(lot)
        session.flush()
        lots.append(lot)
    account = "pending" if lot.matured_at is None else "available"
    if account == "pending":
        lot.pending += points
    else:
        lot.remaining += points
    _post_entry(
        session, member, entry, [("issued", None, -points), (account, member.id, points)], purchase.id
    )
    if account == "available":
        repay_debt(member, lots)


def debit_order(
    session: Session,
    member: Member,
    purchase: Purchase,
    points: int,
    rules: PointRules,
    entry: Entry,
    *,
    lots: list[PointLot] | None = None,
    fresh: bool = False,
) -> None:
    """Take back an order's points: own lot, then available oldest first, then the shop's policy."""
    lots = _lots_unless_posted(session, member, entry, lots, fresh)
    if lots is None:
        return
    by_id = {lot.id: lot for lot in lots}
    own = [lot for lot in lots if lot.purchase_id == purchase.id]
    others = [lot for lot in lots if lot.purchase_id != purchase.id]
    left = points
    taken = {"pending": 0, "available": 0, "writeoff": 0}

    def take(candidates: list[PointLot], field: str, account: str) -> None:
        nonlocal left
        for lot_id, amount in draw_oldest_first([lot_view(x) for x in candidates], left, field):
            setattr(by_id[lot_id], field, getattr(by_id[lot_id], field) - amount)
            taken[account] += amount
            left -= amount

    take(own, "pending", "pending")
    take(own, "remaining", "available")
    take(others, "remaining", "available")
    flag = None
    if left > 0 and rules.negative_policy == "allow_negative":
        # The points were spent: the balance goes negative and the next points repay it.
        taken["available"] += left
        member.points_debt += left
        left = 0
        flag = "negative_balance"
    elif left > 0:
        take(others, "pending", "pending")
        if left > 0:
            taken["writeoff"] += left  # nothing left to take: the shop absorbs it, staff are told
            left = 0
            flag = "refund_writeoff"
    if flag:
        member.points_flag = flag
    legs: list[Leg] = [("issued", None, points)]
    legs += [(acct, member.id, -n) for acct, n in taken.items() if n and acct != "writeoff"]
    if taken["writeoff"]:
        legs.append(("writeoff", None, -taken["writeoff"]))
    _post_entry(session, member, entry, legs, purchase.id)


def mature_due(session: Session, member: Member, now: datetime, lots: list[PointLot] | None = None) -> bool:
    """Move pending points whose return window has closed to available (once per lot)."""
    lots = member_lots(session, member) if lots is None else lots
    changed = False
    for lot in lots:
        if lot.matured_at is not None or lot.matures_at > now:
            continue
        points = lot.pending
        lot.matured_at = now
        lot.remaining += points
        lot.pending = 0
        if points:  # a lot matures once: matured_at is set above, under the member lock
            legs: list[Leg] = [("pending", member.id, -points), ("available", member.id, points)]
            _post_entry(
                session, member, Entry("lot", str(lot.id), "mature", lot.matures_at), legs, lot.purchase_id
            )
        changed = True
    if changed:
        repay_debt(member, lots)
    return changed


def expire_due(
    session: Session, member: Member, rules: PointRules, now: datetime, lots: list[PointLot] | None = None
) -> bool:
    """Expire lots that are due, oldest first; each lot expires once (its expired_at is never cleared)."""
    lots = member_lots(session, member) if lots is None else lots
    due = set(expiry_due([lot_view(lot) for lot in lots], rules, now, member.last_earning_at))
    for lot in lots:
        if lot.id not in due:
            continue
        points = lot.remaining
        lot.expired_at = now
        lot.points_expired = points
        lot.remaining = 0
        if points:  # a lot expires once: expired_at is set above, under the member lock
            legs: list[Leg] = [("available", member.id, -points), ("expired", None, points)]
            _post_entry(session, member, Entry("lot", str(lot.id), "expire", now), legs, lot.purchase_id)
    return bool(due)
