"""The shopper's points: what is pending until when, what expires when, and the history a page at a time.

History lines are the member's ledger transactions by when they happened (`effective_at`), newest first,
cut on (effective_at, id) so a page reads the (member, effective_at, id) index whatever the history's
length. Staff reasons are for staff: the shopper sees the kind of movement and its points only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.dashboard.timeline import above, below, decode_cursor, encode_cursor
from app.i18n import format_date
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import Member
from app.points.ledger import member_lots

PAGE_SIZE = 20
SCHEDULE_ROWS = 6
# What a shopper's history shows; `redact` only happens to members who are gone.
SHOWN_KINDS = (
    "earn",
    "earn_adjust",
    "refund_reversal",
    "cancel",
    "bonus",
    "bonus_reversal",
    "bonus_cancel",
    "mature",
    "expire",
    "spend",
    "hold",
    "capture",
    "release",
    "adjust",
    "opening",
    "merge",
)


@dataclass(frozen=True, slots=True)
class Dated:
    """Points due on one day (shop time)."""

    day: str
    points: int


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One movement of the member's points."""

    day: str
    kind: str
    points: int  # change to available + pending (to available alone when pending points mature)
    pending: bool  # the change is to points still inside the return window
    settled: int  # a reward code's points taken on use (already set aside when the code was issued)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of history with cursors to the newer and the older page."""

    lines: list[HistoryLine]
    newer: str | None
    older: str | None


def _by_day(items: list[tuple[datetime, int]], tz: str, lang: str, cap: int | None) -> list[Dated]:
    days: dict[date, int] = defaultdict(int)
    for at, points in sorted(items):
        days[at.astimezone(ZoneInfo(tz)).date()] += points
    out, left = [], cap
    for day, points in sorted(days.items()):
        if left is not None:
            points = min(points, left)
            left -= points
        if points > 0:
            out.append(Dated(format_date(day, tz, lang), points))
    return out[:SCHEDULE_ROWS]


def schedules(
    session: Session, member: Member, now: datetime, tz: str, lang: str
) -> tuple[list[Dated], list[Dated]]:
    """(points becoming available by day, points expiring by day), soonest first.

    Expiring points never exceed what is available: the lots' `expires_at` is as the last replay left it
    (app/domain/replay.py), and a negative balance has nothing left to lose.
    """
    lots = member_lots(session, member)
    maturing = [(lot.matures_at, lot.pending) for lot in lots if lot.pending > 0 and lot.matures_at > now]
    expiring = [
        (lot.expires_at, lot.remaining)
        for lot in lots
        if lot.expired_at is None and lot.remaining > 0 and lot.expires_at is not None
    ]
    available = max(member.points_available, 0)
    return _by_day(maturing, tz, lang, None), _by_day(expiring, tz, lang, available)


def history(
    session: Session,
    member: Member,
    tz: str,
    lang: str,
    *,
    before: str | None = None,
    after: str | None = None,
    size: int = PAGE_SIZE,
) -> HistoryPage:
    """The page older than the `before` cursor, or newer than `after`, or the newest page."""
    tx, leg = LedgerTransaction, LedgerPosting

    def account(name: str) -> Any:
        return func.coalesce(func.sum(case((leg.account == name, leg.points), else_=0)), 0)

    stmt = (
        select(tx.id, tx.kind, tx.effective_at, account("available"), account("pending"), account("held"))
        .outerjoin(leg, and_(leg.transaction_id == tx.id, leg.member_id == member.id))
        .where(tx.member_id == member.id, tx.kind.in_(SHOWN_KINDS))
        .group_by(tx.id, tx.kind, tx.effective_at)
    )
    older_key, newer_key = decode_cursor(before), decode_cursor(after)
    if newer_key is not None:
        stmt = stmt.where(above(tx.effective_at, tx.id, newer_key)).order_by(
            tx.effective_at.asc(), tx.id.asc()
        )
    else:
        if older_key is not None:
            stmt = stmt.where(below(tx.effective_at, tx.id, older_key))
        stmt = stmt.order_by(tx.effective_at.desc(), tx.id.desc())
    rows: list[Any] = list(session.execute(stmt.limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    if newer_key is not None:
        rows.reverse()
    lines = [
        HistoryLine(
            day=format_date(at, tz, lang),
            kind=kind,
            # Maturing moves points from pending to available: the shopper sees them become usable.
            points=int(available) if kind == "mature" else int(available) + int(pending),
            pending=kind != "mature" and int(pending) != 0 and int(available) == 0,
            settled=-int(held) if kind == "capture" else 0,
        )
        for _, kind, at, available, pending, held in rows
    ]
    keys = [(at, tid) for tid, _, at, *_ in rows]
    if newer_key is None:
        newer = encode_cursor(keys[0]) if keys and older_key is not None else None
        older = encode_cursor(keys[-1]) if keys and more else None
    else:
        newer = encode_cursor(keys[0]) if keys and more else None
        older = encode_cursor(keys[-1]) if keys else None
    return HistoryPage(lines, newer, older)
