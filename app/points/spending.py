"""Spending points: redemptions, staff adjustments with a reason, and holds for reward codes.

Runs inside the caller's transaction with the member row locked, like app/points/ledger.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.points import draw_oldest_first
from app.members.records import lock_member, touch
from app.models.ledger import HoldStatus, PointHold, PointLot
from app.models.member import Member
from app.points import ledger


class InsufficientPoints(Exception):
    """A spend, hold or staff debit asked for more than the member has available."""


def _draw_available(session: Session, member: Member, points: int) -> list[tuple[int, int]]:
    """Consume `points` of available lots oldest first (the caller has checked the balance)."""
    if points <= 0:
        raise ValueError("points must be positive")
    if member.points_available < points:
        raise InsufficientPoints(f"{points} asked, {member.points_available} available")
    lots = ledger.member_lots(session, member)
    by_id = {lot.id: lot for lot in lots}
    drawn = draw_oldest_first([ledger.lot_view(lot) for lot in lots], points)
    for lot_id, amount in drawn:
        by_id[lot_id].remaining -= amount
    return drawn


def spend(
    session: Session,
    member: Member,
    points: int,
    *,
    source: str,
    source_id: str,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """Redeem available points (oldest lots first); False if this spend was already recorded."""
    if ledger.transaction_exists(session, member.shop_id, source, source_id, "spend"):
        return False
    _draw_available(session, member, points)
    ledger.post(
        session,
        member.shop_id,
        member,
        source=source,
        source_id=source_id,
        kind="spend",
        legs=[("available", member.id, -points), ("redeemed", None, points)],
        effective_at=now,
        reason=reason,
    )
    touch(member, now)
    return True


def adjust(
    session: Session,
    member: Member,
    points: int,
    *,
    reason: str,
    source_id: str,
    now: datetime,
    actor: str | None = None,
) -> bool:
    """A staff correction with a reason: + grants a new available lot, - takes from available oldest first."""
    if not reason or not reason.strip():
        raise ValueError("a staff adjustment needs a reason")
    # The staff page loaded the member without its lock: take it, so the balance and lots read below are
    # current and no other change to the member runs between this check and the posting.
    member = lock_member(session, member.id)
    if points == 0 or ledger.transaction_exists(session, member.shop_id, "staff", source_id, "adjust"):
        return False
    text = f"{actor}: {reason}" if actor else reason
    if points > 0:
        lot = PointLot(
            shop_id=member.shop_id,
            member_id=member.id,
            earned_at=now,
            matures_at=now,
            matured_at=now,
            pending=0,
            remaining=points,
        )
        session.add(lot)
        session.flush()
        legs: list[ledger.Leg] = [("adjustment", None, -points), ("available", member.id, points)]
    else:
        _draw_available(session, member, -points)
        legs = [("available", member.id, points), ("adjustment", None, -points)]
    ledger.post(
        session,
        member.shop_id,
        member,
        source="staff",
        source_id=source_id,
        kind="adjust",
        legs=legs,
        effective_at=now,
        reason=text,
    )
    if points > 0:
        ledger.repay_debt(member, ledger.member_lots(session, member))
    touch(member, now)
    return True


def _hold_by_key(session: Session, member: Member, key: str) -> PointHold | None:
    return session.scalar(select(PointHold).where(PointHold.shop_id == member.shop_id, PointHold.key == key))


def _post_reward(
    session: Session, member: Member, key: str, kind: str, legs: list[ledger.Leg], now: datetime
) -> None:
    """One step of a reward code's points (hold, capture, release), keyed by the code."""
    ledger.post(
        session,
        member.shop_id,
        member,
        source="reward",
        source_id=key,
        kind=kind,
        legs=legs,
        effective_at=now,
    )


def hold(session: Session, member: Member, points: int, *, key: str, now: datetime) -> PointHold:
    """Reserve available points for a reward code (idempotent by key)."""
    existing = _hold_by_key(session, member, key)
    if existing is not None:
        return existing
    drawn = _draw_available(session, member, points)
    row = PointHold(
        shop_id=member.shop_id,
        member_id=member.id,
        key=key,
        points=points,
        status=HoldStatus.HELD,
        allocations=[[lot_id, n] for lot_id, n in drawn],
    )
    session.add(row)
    _post_reward(
        session, member, key, "hold", [("available", member.id, -points), ("held", member.id, points)], now
    )
    touch(member, now)
    return row


def _resolve_hold(
    session: Session, member: Member, key: str, outcome: HoldStatus, now: datetime
) -> PointHold | None:
    """The hold under `key` moved from held to `outcome`; None if there is none or it was resolved already."""
    row = _hold_by_key(session, member, key)
    if row is None or row.status != HoldStatus.HELD:
        return None
    row.status, row.resolved_at = outcome, now
    return row


def capture(session: Session, member: Member, key: str, now: datetime) -> bool:
    """The reward code was used: held points are redeemed."""
    row = _resolve_hold(session, member, key, HoldStatus.CAPTURED, now)
    if row is None:
        return False
    legs: list[ledger.Leg] = [("held", member.id, -row.points), ("redeemed", None, row.points)]
    _post_reward(session, member, key, "capture", legs, now)
    touch(member, now)
    return True


def release(session: Session, member: Member, key: str, now: datetime) -> bool:
    """The reward code was not used: points go back to their lots (those of expired lots expire now)."""
    row = _resolve_hold(session, member, key, HoldStatus.RELEASED, now)
    if row is None:
        return False
    expired = 0
    for lot_id, points in row.allocations:
        lot = session.get(PointLot, lot_id)
        if lot is None or lot.expired_at is not None:
            expired += points
            if lot is not None:
                lot.points_expired += points
        else:
            lot.remaining += points
    legs: list[ledger.Leg] = [
        ("held", member.id, -row.points),
        ("available", member.id, row.points - expired),
    ]
    if expired:
        legs.append(("expired", None, expired))
    _post_reward(session, member, key, "release", legs, now)
    ledger.repay_debt(member, ledger.member_lots(session, member))
    touch(member, now)
    return True
