"""A month's points figures from the ledger, by when each movement happened (`effective_at`).

Every figure is the change of what members hold (the sum of their pending, available and held postings),
classed by the transaction's kind, so the month always reconciles: closing = opening + earned - reversed -
redeemed - expired + imported + adjusted + other. The member side is told by the account, not by the
posting's member, so erasing a customer's data (which clears the member on the postings) leaves past months
as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from app.domain.points import MEMBER_ACCOUNTS
from app.domain.ranks import held_now
from app.members.records import member_facts, rank_floor
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase
from app.models.rank import RankSnapshot
from app.models.shop import Shop
from app.models.types import utcnow
from app.points.ranks import month_end
from app.shops.rules import load_rules

COLUMNS = ("earned", "reversed", "redeemed", "expired", "imported", "adjusted", "other")
BALANCES = ("pending", "available", "held")
# The figures a close is compared by: the month's movements, the balances at both ends of the month.
FIGURES = ("opening", *COLUMNS, *BALANCES, "outstanding")
# Which column a kind's change of member points lands in, and the sign that makes the column positive.
# A release gives held points back, so its only change is the part whose lots expired meanwhile.
KIND_COLUMN = {
    "earn": ("earned", 1),
    "earn_adjust": ("earned", 1),
    "refund_reversal": ("reversed", -1),
    "cancel": ("reversed", -1),
    "bonus": ("earned", 1),  # campaign bonuses are points earned; /campaigns shows each campaign's cost
    "bonus_reversal": ("reversed", -1),
    "bonus_cancel": ("reversed", -1),
    "spend": ("redeemed", -1),
    "capture": ("redeemed", -1),
    "expire": ("expired", -1),
    "release": ("expired", -1),
    "opening": ("imported", 1),
    "adjust": ("adjusted", 1),
}
# Signs of the columns in the month's balance: outstanding moves by the sum of column x sign.
BALANCE_SIGN = {c: (-1 if c in ("reversed", "redeemed", "expired") else 1) for c in COLUMNS}


class ReportError(ValueError):
    """A month that cannot be closed or rechecked (not over, already closed, not closed, malformed)."""


@dataclass
class PointsReport:
    """One month of points movements: a row per day, the month's totals, balances and the rank snapshot."""

    period: str
    days: list[dict[str, Any]]
    totals: dict[str, int]
    opening: int
    closing: int
    balances: dict[str, int] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "days": self.days,
            "totals": self.totals,
            "opening": self.opening,
            "closing": self.closing,
            "balances": self.balances,
            "ranks": self.ranks,
        }


def parse_period(text: str) -> date:
    """The first day of a "YYYY-MM" month."""
    try:
        year, month = (int(x) for x in text.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError) as exc:
        raise ReportError(f"not a month: {text!r}") from exc


def month_bounds(period: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of the month in the shop's time zone, as aware datetimes."""
    zone = ZoneInfo(tz)
    start = datetime(period.year, period.month, 1, tzinfo=zone)
    nxt = date(period.year + (period.month == 12), period.month % 12 + 1, 1)
    return start, datetime(nxt.year, nxt.month, 1, tzinfo=zone)


def _member_side(shop: Shop) -> ColumnElement[bool]:
    return (LedgerTransaction.shop_id == shop.id) & LedgerPosting.account.in_(MEMBER_ACCOUNTS)


def points_report(session: Session, shop: Shop, period: date, now: datetime | None = None) -> PointsReport:
    """Points movements of a month (to date, for the running month) from the ledger, by effective_at."""
    now = now or utcnow()
    start, end = month_bounds(period, shop.timezone)
    stop = min(end, now) if start <= now < end else end
    total = func.coalesce(func.sum(LedgerPosting.points), 0)
    member_side = _member_side(shop)
    opening = session.scalar(
        select(total)
        .join_from(LedgerPosting, LedgerTransaction)
        .where(member_side, LedgerTransaction.effective_at < start)
    )
    balances = dict.fromkeys(BALANCES, 0)
    for account, points in session.execute(
        select(LedgerPosting.account, total)
        .join_from(LedgerPosting, LedgerTransaction)
        .where(member_side, LedgerTransaction.effective_at < stop)
        .group_by(LedgerPosting.account)
    ):
        balances[account] = int(points)
    rows = session.execute(
        select(LedgerTransaction.effective_at, LedgerTransaction.kind, total)
        .join_from(LedgerPosting, LedgerTransaction)
        .where(member_side, LedgerTransaction.effective_at >= start, LedgerTransaction.effective_at < stop)
        .group_by(LedgerTransaction.id, LedgerTransaction.effective_at, LedgerTransaction.kind)
    )
    zone = ZoneInfo(shop.timezone)
    per_day: dict[date, dict[str, int]] = {}
    for at, kind, points in rows:
        bucket = per_day.setdefault(at.astimezone(zone).date(), dict.fromkeys(COLUMNS, 0))
        column, sign = KIND_COLUMN.get(kind, ("other", 1))
        bucket[column] += sign * int(points)
    days: list[dict[str, Any]] = []
    running = int(opening or 0)
    day = start.date()
    last = (stop - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        bucket = per_day.get(day, dict.fromkeys(COLUMNS, 0))
        running += sum(BALANCE_SIGN[c] * bucket[c] for c in COLUMNS)
        days.append({"date": day.isoformat(), **bucket, "outstanding": running})
        day += timedelta(days=1)
    totals = {c: sum(d[c] for d in days) for c in COLUMNS}
    return PointsReport(f"{period:%Y-%m}", days, totals, int(opening or 0), running, balances)


def figures_of(data: dict[str, Any]) -> dict[str, int]:
    """The comparable figures of a stored close (a close made before a figure existed lacks it)."""
    found = {"opening": data.get("opening"), **data.get("totals", {}), **data.get("balances", {})}
    found["outstanding"] = data.get("closing")
    return {k: int(found[k]) for k in FIGURES if found.get(k) is not None}


def rank_counts(session: Session, shop: Shop, period: date) -> dict[str, int]:
    """Members per rank in the month-end snapshot."""
    rows = session.execute(
        select(RankSnapshot.rank, func.count())
        .where(RankSnapshot.shop_id == shop.id, RankSnapshot.period == f"{period:%Y-%m}")
        .group_by(RankSnapshot.rank)
    ).all()
    return {rank: int(n) for rank, n in rows}


def ranks_recomputed(session: Session, shop: Shop, period: date) -> dict[str, int]:
    """Members per rank at month end evaluated again from today's history (nothing written).

    Counted are the active members known to have existed then: in the month's snapshot, created before
    the month ended, or with a purchase before it (members an import brought in later); so members who
    joined since do not show up as a change of a past month.
    """
    rules = load_rules(shop)
    end = month_end(period, shop.timezone)
    key = f"{period:%Y-%m}"
    in_snapshot = select(RankSnapshot.member_id).where(
        RankSnapshot.shop_id == shop.id, RankSnapshot.period == key
    )
    bought = exists().where(Purchase.member_id == Member.id, Purchase.processed_at <= end)
    counts: dict[str, int] = {}
    for member in session.scalars(
        select(Member).where(
            Member.shop_id == shop.id,
            Member.status == MemberStatus.ACTIVE,
            or_(Member.created_at <= end, Member.id.in_(in_snapshot), bought),
        )
    ):
        facts = member_facts(session, member)
        tier = held_now(facts, rules.ranks, rules.points.rate, end, shop.timezone, rank_floor(member))
        counts[tier.handle] = counts.get(tier.handle, 0) + 1
    return counts


def last_entry(session: Session, shop: Shop) -> int:
    """The newest ledger transaction id of the shop: a watermark to tell later entries by."""
    return int(
        session.scalar(select(func.max(LedgerTransaction.id)).where(LedgerTransaction.shop_id == shop.id))
        or 0
    )


def entries_since(session: Session, shop: Shop, period: date, watermark: int | None, since: datetime) -> int:
    """Ledger entries of the month recorded after the watermark (or, lacking one, after `since`)."""
    start, end = month_bounds(period, shop.timezone)
    later = (
        LedgerTransaction.id > watermark if watermark is not None else LedgerTransaction.created_at > since
    )
    return int(
        session.scalar(
            select(func.count()).where(
                LedgerTransaction.shop_id == shop.id,
                LedgerTransaction.effective_at >= start,
                LedgerTransaction.effective_at < end,
                later,
            )
        )
        or 0
    )
