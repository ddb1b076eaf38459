"""Spending points: redemptions, staff adjustments with a reason, and holds for reward codes.

Each is a movement posted once under its key, at the instant it was made; the member's replay then decides
which lots it drew from (oldest first). Runs inside the caller's transaction with the member row locked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.members.records import lock_member, touch
from app.models.ledger import HoldStatus, PointHold
from app.models.member import Member
from app.models.shop import Shop
from app.points import ledger
from app.points.engine import rebuild_members


class InsufficientPoints(Exception):
    """A spend, hold or staff debit asked for more than the member has available."""


def _check_available(member: Member, points: int) -> None:
    """A spend, hold or staff debit needs that many available points now."""
    if points <= 0:
        raise ValueError("points must be positive")
    if member.points_available < points:
        raise InsufficientPoints(f"{points} asked, {member.points_available} available")


def _settle(session: Session, member: Member, now: datetime) -> None:
    """Replay the member so lots, debt and balances follow the movement just posted."""
    shop = session.get(Shop, member.shop_id)
    assert shop is not None  # a member belongs to a shop (foreign key)
    rebuild_members(session, shop, [member.id], now)
    touch(member, now)


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
    _check_available(member, points)
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
    _settle(session, member, now)
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
    if points < 0:
        _check_available(member, -points)
    ledger.post(
        session,
        member.shop_id,
        member,
        source="staff",
        source_id=source_id,
        kind="adjust",
        legs=[("adjustment", None, -points), ("available", member.id, points)],
        effective_at=now,
        reason=f"{actor}: {reason}" if actor else reason,
    )
    _settle(session, member, now)
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
    _check_available(member, points)
    row = PointHold(
        shop_id=member.shop_id, member_id=member.id, key=key, points=points, status=HoldStatus.HELD
    )
    session.add(row)
    _post_reward(
        session, member, key, "hold", [("available", member.id, -points), ("held", member.id, points)], now
    )
    _settle(session, member, now)
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
    _settle(session, member, now)
    return True


def release(session: Session, member: Member, key: str, now: datetime) -> bool:
    """The reward code was not used: points go back to their lots (those of expired lots expire now)."""
    row = _resolve_hold(session, member, key, HoldStatus.RELEASED, now)
    if row is None:
        return False
    # Posted as if every point came back; the replay moves the points of lots that expired meanwhile to
    # `expired` (app/domain/replay.py).
    legs: list[ledger.Leg] = [("held", member.id, -row.points), ("available", member.id, row.points)]
    _post_reward(session, member, key, "release", legs, now)
    _settle(session, member, now)
    return True
