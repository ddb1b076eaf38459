"""Month-end close: rank snapshot and points earned/reversed/redeemed/expired/outstanding per day and month.

Replaces the two-day manual month-end job: the worker calls `close_due_months` and each shop's previous month
is closed once, early on the 1st in the shop's time zone. A closed month is frozen (its CSV is stored), so
late corrections show up in the month they were posted, as accounting expects.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.dashboard import MonthEndClose
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.rank import RankSnapshot
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)

COLUMNS = ("earned", "reversed", "redeemed", "expired", "adjusted", "other")
CSV_HEADER = ("section", "key", *COLUMNS, "outstanding", "members")
# How each ledger kind moves the points members hold (sum of their postings), as a report column.
KIND_COLUMN = {
    "earn": ("earned", 1),
    "earn_adjust": ("earned", 1),
    "refund_reversal": ("reversed", -1),
    "spend": ("redeemed", -1),
    "capture": ("redeemed", -1),
    "expire": ("expired", -1),
    "adjust": ("adjusted", 1),
}
CLOSE_AFTER = timedelta(minutes=5)  # into the new month, so late postings of the last second are in


class ReportError(ValueError):
    """A month that cannot be closed (not over yet, already closed, malformed)."""


class MonthNotOver(ReportError):
    """The month has not ended yet in the shop's time zone."""


class AlreadyClosed(ReportError):
    """The month was closed before; a close is frozen."""


@dataclass
class PointsReport:
    """One month of points movements: a row per day, the month's totals, and the rank snapshot."""

    period: str
    days: list[dict[str, Any]]
    totals: dict[str, int]
    opening: int
    closing: int
    ranks: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "days": self.days,
            "totals": self.totals,
            "opening": self.opening,
            "closing": self.closing,
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


def points_report(session: Session, shop: Shop, period: date, now: datetime | None = None) -> PointsReport:
    """Points movements of a month (to date, for the running month) from the ledger."""
    now = now or utcnow()
    start, end = month_bounds(period, shop.timezone)
    stop = min(end, now) if start <= now < end else end
    member_points = func.coalesce(func.sum(LedgerPosting.points), 0)
    base = (
        select(member_points)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.shop_id == shop.id, LedgerPosting.member_id.is_not(None))
    )
    opening = int(session.scalar(base.where(LedgerTransaction.effective_at < start)) or 0)
    rows = session.execute(
        select(LedgerTransaction.effective_at, LedgerTransaction.kind, LedgerPosting.points)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.shop_id == shop.id,
            LedgerPosting.member_id.is_not(None),
            LedgerTransaction.effective_at >= start,
            LedgerTransaction.effective_at < stop,
        )
    ).all()
    zone = ZoneInfo(shop.timezone)
    per_day: dict[date, dict[str, int]] = {}
    for at, kind, points in rows:
        day = at.astimezone(zone).date()
        bucket = per_day.setdefault(day, dict.fromkeys(COLUMNS, 0))
        column, sign = KIND_COLUMN.get(kind, ("other", 1))
        bucket[column] += sign * points
    days: list[dict[str, Any]] = []
    running = opening
    day = start.date()
    last = (stop - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        bucket = per_day.get(day, dict.fromkeys(COLUMNS, 0))
        running += (
            bucket["earned"]
            - bucket["reversed"]
            - bucket["redeemed"]
            - bucket["expired"]
            + bucket["adjusted"]
            + bucket["other"]
        )
        days.append({"date": day.isoformat(), **bucket, "outstanding": running})
        day += timedelta(days=1)
    totals = {c: sum(d[c] for d in days) for c in COLUMNS}
    return PointsReport(f"{period:%Y-%m}", days, totals, opening, running)


def rank_counts(session: Session, shop: Shop, period: date) -> dict[str, int]:
    """Members per rank in the month-end snapshot."""
    rows = session.execute(
        select(RankSnapshot.rank, func.count())
        .where(RankSnapshot.shop_id == shop.id, RankSnapshot.period == f"{period:%Y-%m}")
        .group_by(RankSnapshot.rank)
    ).all()
    return {rank: int(n) for rank, n in rows}


def to_csv(report: PointsReport) -> str:
    """The close as CSV: a row per day, the month total, then members per rank at month end."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(["opening", report.period, *[""] * len(COLUMNS), report.opening, ""])
    for d in report.days:
        writer.writerow(["day", d["date"], *[d[c] for c in COLUMNS], d["outstanding"], ""])
    writer.writerow(["month", report.period, *[report.totals[c] for c in COLUMNS], report.closing, ""])
    for rank, n in sorted(report.ranks.items()):
        writer.writerow(["rank", rank, *[""] * len(COLUMNS), "", n])
    return out.getvalue()


def close_month(
    session: Session, shop: Shop, period: date, *, trigger: str = "schedule", now: datetime | None = None
) -> MonthEndClose:
    """Close a finished month: snapshot ranks, freeze the points report and its CSV (the caller commits)."""
    from app.points.ranks import snapshot_month_end

    now = now or utcnow()
    period = period.replace(day=1)
    _, end = month_bounds(period, shop.timezone)
    if now < end:
        raise MonthNotOver("the month is not over yet")
    key = f"{period:%Y-%m}"
    if session.scalar(
        select(MonthEndClose.id).where(MonthEndClose.shop_id == shop.id, MonthEndClose.period == key)
    ):
        raise AlreadyClosed("the month is already closed")
    snapshot_month_end(session, shop, period)
    report = points_report(session, shop, period, now)
    report.ranks = rank_counts(session, shop, period)
    row = MonthEndClose(
        shop_id=shop.id, period=key, trigger=trigger, closed_at=now, data=report.to_json(), csv=to_csv(report)
    )
    session.add(row)
    session.flush()
    return row


def due_period(shop: Shop, now: datetime) -> date:
    """The month a close at `now` is for: the previous month in the shop's time zone."""
    local = (now - CLOSE_AFTER).astimezone(ZoneInfo(shop.timezone)).date().replace(day=1)
    return (local - timedelta(days=1)).replace(day=1)


def close_due_months(session: Session, now: datetime | None = None) -> int:
    """Worker job: close every installed shop's previous month once it is over; commits per shop."""
    now = now or utcnow()
    closed = 0
    for shop in session.scalars(
        select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)
    ).all():
        period = due_period(shop, now)
        exists = session.scalar(
            select(MonthEndClose.id).where(
                MonthEndClose.shop_id == shop.id, MonthEndClose.period == f"{period:%Y-%m}"
            )
        )
        if exists:
            continue
        try:
            close_month(session, shop, period, now=now)
            session.commit()
            closed += 1
            log.info("month-end close shop=%d period=%s done", shop.id, f"{period:%Y-%m}")
        except (ReportError, IntegrityError):  # another worker closed it first
            session.rollback()
    return closed
