"""Points for past purchases: the shop's `earn_since` choice, a preview of its effect, the rebuild it needs.

History always counts for purchase history, channel mix and rank; `earn_since` only decides which purchases
earn points. Changing it re-derives the members with purchases between the old and the new instant (the
engine replays each member's history): in the request for a few members, else through `member_rebuilds`
rows the worker works off in batches (run_rebuilds, a scheduled job).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.opening import local_midnight
from app.domain.points import order_points
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop, ShopStatus
from app.models.shop_jobs import REBUILD_OPEN, MemberRebuild, RebuildStatus
from app.models.types import utcnow
from app.points.engine import rebuild_members
from app.shops.rules import load_rules, save_rules

log = logging.getLogger(__name__)

HISTORY_MODES = ("none", "since", "all")
INLINE_MEMBERS = 200  # more members than this are rebuilt by the worker, not in the request
REBUILD_BATCH = 200  # members per committed batch in the worker
MAX_ATTEMPTS = 5
BUDGET_SECONDS = 20.0  # per worker round, so the inbox is not kept waiting


@dataclass(frozen=True, slots=True)
class HistoryChoice:
    """What the merchant chose: no past purchases earn (none), those from a day on (since), or all."""

    mode: str
    day: date | None = None


def cutoff_for(shop: Shop, choice: HistoryChoice) -> datetime | None:
    """The `earn_since` instant of a choice: the install, the shop's local midnight of the day, or None."""
    if choice.mode == "none":
        return shop.installed_at
    if choice.mode == "since":
        if choice.day is None:
            raise ValueError("a since-choice needs a day")
        return local_midnight(choice.day, shop.timezone)
    return None


def current_choice(shop: Shop) -> HistoryChoice:
    """The stored `earn_since` as a choice (an instant other than the install reads as its local day)."""
    since = load_rules(shop).points.earn_since
    if since is None:
        return HistoryChoice("all")
    if shop.installed_at is not None and since == shop.installed_at:
        return HistoryChoice("none")
    return HistoryChoice("since", since.astimezone(ZoneInfo(shop.timezone)).date())


@dataclass(frozen=True, slots=True)
class EarnFigures:
    """Purchases that earn points under a cutoff, their members, and roughly how many points."""

    purchases: int = 0
    members: int = 0
    points: int = 0


@dataclass(frozen=True, slots=True)
class HistoryPreview:
    """All history (it counts for rank and mix either way), what earns now, and what would earn."""

    history: EarnFigures
    current: EarnFigures
    proposed: EarnFigures
    members_to_rebuild: int

    @property
    def points_change(self) -> int:
        return self.proposed.points - self.current.points


class _Tally:
    def __init__(self) -> None:
        self.purchases = 0
        self.points = 0
        self.members: set[int] = set()

    def add(self, member_id: int, points: int) -> None:
        self.purchases += 1
        self.points += points
        self.members.add(member_id)

    def figures(self) -> EarnFigures:
        return EarnFigures(self.purchases, len(self.members), self.points)


# member id, processed_at, gross, cancelled, earn rate, earn multiplier, refunded so far
_PurchaseRow = tuple[int, datetime, Decimal, bool, Decimal, Decimal, Decimal | None]


def _earns(at: datetime, cutoff: datetime | None) -> bool:
    return cutoff is None or at >= cutoff


def preview(session: Session, shop: Shop, cutoff: datetime | None) -> HistoryPreview:
    """The effect of `cutoff` from the stored purchases: floor(net x rate x the rank multiplier recorded on
    each purchase), net of refunds; cancelled purchases earn nothing. Nothing is written."""
    current = load_rules(shop).points.earn_since
    refunded = (
        select(PurchaseRefund.purchase_id, func.sum(PurchaseRefund.amount).label("amount"))
        .where(PurchaseRefund.shop_id == shop.id)
        .group_by(PurchaseRefund.purchase_id)
        .subquery()
    )
    stmt = (
        select(
            Purchase.member_id,
            Purchase.processed_at,
            Purchase.gross_amount,
            Purchase.cancelled,
            Purchase.earn_rate,
            Purchase.earn_multiplier,
            refunded.c.amount,
        )
        .join(Member, Member.id == Purchase.member_id)
        .outerjoin(refunded, refunded.c.purchase_id == Purchase.id)
        .where(Purchase.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
        .execution_options(yield_per=2000)
    )
    history, now_, then = _Tally(), _Tally(), _Tally()
    window = _window(current, cutoff)
    touched: set[int] = set()
    rows = cast(Iterable[_PurchaseRow], session.execute(stmt))
    for member_id, at, gross, cancelled, rate, multiplier, refund in rows:
        if window is not None and _in(window, at):
            touched.add(member_id)
        net = Decimal(0) if cancelled else max(gross - (refund or 0), Decimal(0))
        if net <= 0:
            continue
        points = order_points(net, rate, multiplier)
        history.add(member_id, points)
        if _earns(at, current):
            now_.add(member_id, points)
        if _earns(at, cutoff):
            then.add(member_id, points)
    return HistoryPreview(history.figures(), now_.figures(), then.figures(), len(touched))


Window = tuple[datetime | None, datetime]  # [from, to): from None = since the beginning


def _window(old: datetime | None, new: datetime | None) -> Window | None:
    """The instants whose purchases change from earning to not (or back); None when nothing changes."""
    if old == new:
        return None
    if old is None or new is None:
        bound = old if new is None else new
        assert bound is not None  # not both None: they differ
        return None, bound
    return min(old, new), max(old, new)


def _in(window: Window, at: datetime) -> bool:
    return (window[0] is None or window[0] <= at) and at < window[1]


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """How many members a saved choice concerns and whether their rebuild runs in the worker."""

    changed: bool
    members: int = 0
    queued: bool = False


def save_choice(
    session: Session, shop: Shop, cutoff: datetime | None, now: datetime | None = None
) -> SaveOutcome:
    """Store `earn_since` and rebuild the members with purchases between the old and the new instant."""
    now = now or utcnow()
    rules = load_rules(shop)
    window = _window(rules.points.earn_since, cutoff)
    if window is None:
        return SaveOutcome(False)
    save_rules(session, shop, replace(rules, points=replace(rules.points, earn_since=cutoff)))
    stmt = (
        select(Purchase.member_id)
        .join(Member, Member.id == Purchase.member_id)
        .where(
            Purchase.shop_id == shop.id,
            Member.status == MemberStatus.ACTIVE,
            Purchase.processed_at < window[1],
        )
        .distinct()
    )
    if window[0] is not None:
        stmt = stmt.where(Purchase.processed_at >= window[0])
    ids = sorted(session.scalars(stmt))
    queued = schedule_rebuild(session, shop, "earn_since", ids, now)
    log.info("shop %s: earn_since changed, %d members to rebuild (queued: %s)", shop.id, len(ids), queued)
    return SaveOutcome(True, len(ids), queued)


def schedule_rebuild(session: Session, shop: Shop, reason: str, ids: list[int], now: datetime) -> bool:
    """Rebuild the members now when they are few, else queue them for the worker; True when queued."""
    if not ids:
        return False
    if len(ids) <= INLINE_MEMBERS:
        rebuild_members(session, shop, ids, now)
        return False
    session.add(MemberRebuild(shop_id=shop.id, reason=reason, member_ids=list(ids), created_at=now))
    session.flush()
    return True


def open_rebuilds(session: Session, shop: Shop) -> list[MemberRebuild]:
    """The shop's queued or running rebuilds, oldest first (shown while the worker is at them)."""
    stmt = (
        select(MemberRebuild)
        .where(MemberRebuild.shop_id == shop.id, MemberRebuild.status.in_(REBUILD_OPEN))
        .order_by(MemberRebuild.id)
    )
    return list(session.scalars(stmt))


def run_rebuilds(now: datetime | None = None, budget_seconds: float = BUDGET_SECONDS) -> int:
    """The worker's scheduled job: work off queued rebuilds a committed batch at a time; members rebuilt.

    A batch that fails is rolled back and tried again next round (the engine's rebuild is idempotent);
    after MAX_ATTEMPTS failures the job is marked failed and staff see it on the history page.
    """
    from app.extensions import db

    session = db.session
    deadline = time.monotonic() + budget_seconds
    rebuilt = 0
    while time.monotonic() < deadline:
        job = session.scalar(
            select(MemberRebuild)
            .join(Shop, Shop.id == MemberRebuild.shop_id)
            .where(MemberRebuild.status.in_(REBUILD_OPEN), Shop.status == ShopStatus.INSTALLED)
            .order_by(MemberRebuild.id)
            .limit(1)
            .with_for_update(of=MemberRebuild, skip_locked=True)
        )
        if job is None:
            break
        shop = session.get(Shop, job.shop_id)
        assert shop is not None  # joined above
        batch = list(job.member_ids[job.done : job.done + REBUILD_BATCH])
        job_id = job.id
        try:
            changed = rebuild_members(session, shop, batch, now or utcnow())
        except Exception as exc:  # the batch rolls back; the job stays for the next round
            session.rollback()
            _failed(session, job_id, type(exc).__name__)
            break  # the next round tries again
        job.done += len(batch)
        job.changed += len(changed)
        job.status = RebuildStatus.DONE if job.done >= len(job.member_ids) else RebuildStatus.RUNNING
        if job.status == RebuildStatus.DONE:
            job.finished_at = utcnow()
        session.commit()
        rebuilt += len(batch)
    return rebuilt


def _failed(session: Session, job_id: int, error: str) -> None:
    job = session.get(MemberRebuild, job_id)
    if job is None:
        return
    job.attempts += 1
    job.error = error
    if job.attempts >= MAX_ATTEMPTS:
        job.status = RebuildStatus.FAILED
        job.finished_at = utcnow()
    log.error(
        "member rebuild %s of shop %s failed (%d attempts): %s", job.id, job.shop_id, job.attempts, error
    )
    session.commit()
