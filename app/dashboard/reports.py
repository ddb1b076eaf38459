"""Month-end close: a month closes once its data is complete; late data is recorded beside it as adjustments.

The worker calls `close_due_months`. A shop's previous month closes early on the 1st (shop time), but only
when its data is complete (`readiness`): the install history import has finished, and no webhook delivery
that happened or arrived before the month ended is still waiting to be processed. Until then the month is
skipped with the reasons logged and shown on the reports page.

A close is never edited. Once a day (and when staff ask) every closed month is computed again from the
ledger by effective_at; when a figure differs from the current figures, an adjustment is recorded with the
recomputed figures, the difference and why, so the close plus its adjustments are the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.dashboard.close_csv import original_rows, to_csv
from app.dashboard.month_figures import (
    COLUMNS,
    FIGURES,
    ReportError,
    entries_since,
    figures_of,
    last_entry,
    month_bounds,
    parse_period,
    points_report,
    rank_counts,
    ranks_recomputed,
)
from app.jobs.leases import acquire, new_holder_id
from app.models.dashboard import MonthEndClose
from app.models.inbox import InboxEvent, InboxStatus
from app.models.rank import MonthCloseAdjustment
from app.models.shop import Shop, ShopStatus
from app.models.shop_jobs import REBUILD_OPEN, BackfillJob, BackfillStatus, MemberRebuild
from app.models.types import utcnow

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "ReportError", "month_bounds", "parse_period", "points_report"]

CLOSE_AFTER = timedelta(minutes=5)  # into the new month, so late postings of the last second are in
HISTORY_KINDS = ("customers", "orders")  # what the install backfill imports (app/sync/backfill.py)
RECHECK_LEASE = "month-recheck"  # held until the shop's next midnight: closed months are rechecked daily
WAITING = (InboxStatus.PENDING, InboxStatus.PROCESSING)


class MonthNotOver(ReportError):
    """The month has not ended yet in the shop's time zone."""


class AlreadyClosed(ReportError):
    """The month was closed before; late data becomes an adjustment, never a second close."""


class NotClosed(ReportError):
    """Only a closed month can be rechecked."""


@dataclass(frozen=True)
class Hold:
    """Why a month cannot close yet: a code (reports.hold.<code>) and the values its message shows."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code


class NotReady(ReportError):
    """The month's data is not complete yet."""

    def __init__(self, holds: list[Hold]) -> None:
        super().__init__("; ".join(map(str, holds)))
        self.holds = holds


def readiness(session: Session, shop: Shop, period: date) -> list[Hold]:
    """What the month still waits for; empty when its data is complete.

    The history import is complete when the newest backfill job of each kind is done, and no
    re-derivation of members' points (after a rules change or an opening-balance import) is at work. A
    webhook delivery still pending or processing holds every month that ended after it happened or after
    it arrived: either of X-Shopify-Triggered-At (`triggered_at`) and `received_at` before the month end
    counts, so a delivery with a skewed or missing trigger time cannot slip through. Deliveries given up
    on (`dead`) hold nothing: they wait for an operator, and their replay later shows up as an adjustment.
    """
    _, end = month_bounds(period, shop.timezone)
    newest: dict[str, BackfillJob] = {}
    for job in session.scalars(
        select(BackfillJob).where(BackfillJob.shop_id == shop.id).order_by(BackfillJob.id.desc())
    ):
        newest.setdefault(job.kind, job)
    holds = []
    for kind in HISTORY_KINDS:
        latest = newest.get(kind)
        if latest is None:
            holds.append(Hold("history_not_started", {"kind": kind}))
        elif latest.status == BackfillStatus.FAILED:
            holds.append(Hold("history_failed", {"kind": kind}))
        elif latest.status != BackfillStatus.DONE:
            holds.append(
                Hold("history_running", {"kind": kind, "done": latest.done, "total": latest.total or 0})
            )
    waiting = session.scalar(
        select(func.count()).where(
            or_(InboxEvent.shop_id == shop.id, InboxEvent.shop_domain == shop.domain),
            InboxEvent.status.in_(WAITING),
            or_(InboxEvent.triggered_at < end, InboxEvent.received_at < end),
        )
    )
    if waiting:
        holds.append(Hold("inbox_waiting", {"count": int(waiting)}))
    rebuilding = session.scalar(
        select(func.count()).where(MemberRebuild.shop_id == shop.id, MemberRebuild.status.in_(REBUILD_OPEN))
    )
    if rebuilding:
        holds.append(Hold("rebuild_running"))
    return holds


def _close_of(session: Session, shop: Shop, key: str) -> MonthEndClose | None:
    return session.scalar(
        select(MonthEndClose).where(MonthEndClose.shop_id == shop.id, MonthEndClose.period == key)
    )


def close_month(
    session: Session, shop: Shop, period: date, *, trigger: str = "schedule", now: datetime | None = None
) -> MonthEndClose:
    """Close a finished month whose data is complete: snapshot ranks, freeze the figures and CSV.

    Raises before writing anything when the month is not over, closed already, or not ready (NotReady
    lists why). The caller commits.
    """
    from app.points.ranks import snapshot_month_end

    now = now or utcnow()
    period = period.replace(day=1)
    _, end = month_bounds(period, shop.timezone)
    if now < end:
        raise MonthNotOver("the month is not over yet")
    key = f"{period:%Y-%m}"
    if _close_of(session, shop, key) is not None:
        raise AlreadyClosed("the month is already closed")
    holds = readiness(session, shop, period)
    if holds:
        raise NotReady(holds)
    snapshot_month_end(session, shop, period)
    report = points_report(session, shop, period, now)
    report.ranks = rank_counts(session, shop, period)
    data = {**report.to_json(), "last_entry": last_entry(session, shop)}
    row = MonthEndClose(shop_id=shop.id, period=key, trigger=trigger, closed_at=now, data=data)
    row.csv = to_csv(original_rows(row, shop.timezone))
    session.add(row)
    session.flush()
    return row


def adjustments_of(session: Session, shop_id: int, period: str) -> list[MonthCloseAdjustment]:
    return list(
        session.scalars(
            select(MonthCloseAdjustment)
            .where(MonthCloseAdjustment.shop_id == shop_id, MonthCloseAdjustment.period == period)
            .order_by(MonthCloseAdjustment.sequence)
        )
    )


def recheck_month(
    session: Session, shop: Shop, period: date, *, trigger: str = "schedule", now: datetime | None = None
) -> MonthCloseAdjustment | None:
    """Compute a closed month again from the ledger; record an adjustment if any figure changed.

    Compared with the current figures (the last adjustment's, else the close's), so a second run without
    new data records nothing. Ranks at month end are evaluated again when the points changed. Raises
    NotClosed, or NotReady while data for the month is still waiting. The caller commits.
    """
    now = now or utcnow()
    period = period.replace(day=1)
    key = f"{period:%Y-%m}"
    close = _close_of(session, shop, key)
    if close is None:
        raise NotClosed("the month is not closed")
    holds = readiness(session, shop, period)
    if holds:
        raise NotReady(holds)
    earlier = adjustments_of(session, shop.id, key)
    last = earlier[-1] if earlier else None
    before = {k: v for k, v in last.figures.items() if k in FIGURES} if last else figures_of(close.data)
    report = points_report(session, shop, period, now)
    figures: dict[str, Any] = {
        "opening": report.opening,
        **report.totals,
        **report.balances,
        "outstanding": report.closing,
    }
    difference: dict[str, Any] = {
        k: figures[k] - before[k] for k in FIGURES if k in before and figures[k] != before[k]
    }
    if not difference:
        return None
    ranks_before = (last.figures.get("ranks") if last else None) or close.data.get("ranks", {})
    ranks = ranks_recomputed(session, shop, period)
    moved = {r: ranks.get(r, 0) - ranks_before.get(r, 0) for r in set(ranks) | set(ranks_before)}
    figures["ranks"] = ranks
    difference["ranks"] = {r: n for r, n in moved.items() if n}
    mark = (last.detail if last else close.data).get("last_entry")
    late = entries_since(session, shop, period, mark, last.created_at if last else close.closed_at)
    row = MonthCloseAdjustment(
        shop_id=shop.id,
        period=key,
        sequence=(last.sequence if last else 0) + 1,
        trigger=trigger,
        reason="late_entries" if late else "changed_entries",
        figures=figures,
        difference=difference,
        detail={"late_entries": late, "last_entry": last_entry(session, shop)},
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def due_period(shop: Shop, now: datetime) -> date:
    """The month a close at `now` is for: the previous month in the shop's time zone."""
    local = (now - CLOSE_AFTER).astimezone(ZoneInfo(shop.timezone)).date().replace(day=1)
    return (local - timedelta(days=1)).replace(day=1)


def _next_local_midnight(shop: Shop, now: datetime) -> datetime:
    zone = ZoneInfo(shop.timezone)
    local = now.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)


def recheck_shop(session: Session, shop: Shop, *, trigger: str, now: datetime) -> list[MonthCloseAdjustment]:
    """Recheck every closed month of the shop, committing each adjustment; months not ready wait."""
    recorded = []
    for key in session.scalars(
        select(MonthEndClose.period).where(MonthEndClose.shop_id == shop.id).order_by(MonthEndClose.period)
    ).all():
        try:
            row = recheck_month(session, shop, parse_period(key), trigger=trigger, now=now)
        except NotReady as exc:
            log.info("month-end recheck shop=%d period=%s waits: %s", shop.id, key, exc)
            continue
        if row is None:
            continue
        try:
            session.commit()
        except IntegrityError:  # another process recorded the same adjustment first
            session.rollback()
            continue
        recorded.append(row)
        log.info(
            "month-end adjustment shop=%d period=%s #%d %s: %s", shop.id, key, row.sequence, row.reason,
            row.difference,
        )  # fmt: skip
    return recorded


def close_due_months(session: Session, now: datetime | None = None) -> int:
    """Worker job: close each installed shop's previous month once its data is complete, and once a day
    recheck the closed months for late data; commits per shop. Returns how many months closed."""
    now = now or utcnow()
    closed = 0
    for shop in session.scalars(
        select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)
    ).all():
        key = f"{due_period(shop, now):%Y-%m}"
        if _close_of(session, shop, key) is None:
            try:
                close_month(session, shop, due_period(shop, now), now=now)
                session.commit()
                closed += 1
                log.info("month-end close shop=%d period=%s done", shop.id, key)
            except NotReady as exc:  # raised before anything is written
                log.info(
                    "month-end close shop=%d period=%s skipped, data not complete: %s", shop.id, key, exc
                )
            except (ReportError, IntegrityError):  # another worker closed it first
                session.rollback()
        ttl = _next_local_midnight(shop, now) - now
        if acquire(session, shop.id, RECHECK_LEASE, new_holder_id("recheck"), ttl, now):
            recheck_shop(session, shop, trigger="schedule", now=now)
    return closed


@dataclass
class ClosedMonth:
    """A close as the reports page shows it: the original figures, each adjustment, the current figures."""

    close: MonthEndClose
    adjustments: list[MonthCloseAdjustment]
    original: dict[str, int]
    current: dict[str, int]
    ranks: dict[str, int]  # members per rank at month end, as last computed

    @property
    def figure_rows(self) -> list[tuple[str, int | None, list[int | None], int | None]]:
        """(figure, original, difference per adjustment, current) for every figure either side has."""
        return [
            (
                k,
                self.original.get(k),
                [a.difference.get(k, 0) if k in a.figures else None for a in self.adjustments],
                self.current.get(k),
            )
            for k in FIGURES
            if k in self.original or k in self.current
        ]

    @property
    def rank_rows(self) -> list[tuple[str, int | None, list[int | None], int | None]]:
        original = self.close.data.get("ranks", {})
        handles = sorted(set(original) | set(self.ranks))
        return [
            (
                r,
                original.get(r, 0),
                [
                    a.difference.get("ranks", {}).get(r, 0) if "ranks" in a.figures else None
                    for a in self.adjustments
                ],
                self.ranks.get(r, 0),
            )
            for r in handles
        ]


def closed_months(session: Session, shop: Shop) -> list[ClosedMonth]:
    """The shop's closes, newest first, each with its adjustments."""
    adjustments: dict[str, list[MonthCloseAdjustment]] = {}
    for row in session.scalars(
        select(MonthCloseAdjustment)
        .where(MonthCloseAdjustment.shop_id == shop.id)
        .order_by(MonthCloseAdjustment.period, MonthCloseAdjustment.sequence)
    ):
        adjustments.setdefault(row.period, []).append(row)
    months = []
    for close in session.scalars(
        select(MonthEndClose).where(MonthEndClose.shop_id == shop.id).order_by(MonthEndClose.period.desc())
    ):
        rows = adjustments.get(close.period, [])
        original = figures_of(close.data)
        current, ranks = dict(original), dict(close.data.get("ranks", {}))
        for row in rows:
            current.update({k: v for k, v in row.figures.items() if k in FIGURES})
            ranks = row.figures.get("ranks", ranks)
        months.append(ClosedMonth(close, rows, original, current, ranks))
    return months


def waiting_holds(session: Session, shop: Shop, now: datetime | None = None) -> tuple[str, list[Hold]] | None:
    """The month due for closing that is not closed yet, and what it waits for (None when it is closed)."""
    period = due_period(shop, now or utcnow())
    key = f"{period:%Y-%m}"
    if _close_of(session, shop, key) is not None:
        return None
    return key, readiness(session, shop, period)
