"""Sync health for the dashboard: inbox backlog, dead letters, freshness, API budget, backfill progress.

Reads only, each scoped by the shop and answered from an index (the home page calls `sync_health` on every
load). The writes behind these numbers belong to the webhook pipeline and the syncer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.jobs import task_backoff
from app.jobs.task_backoff import TaskFailure
from app.models.inbox import InboxEvent, InboxStatus
from app.models.member import Member, MemberStatus
from app.models.shop import Shop
from app.models.shop_jobs import BackfillJob, BackfillStatus
from app.models.sync_state import MemberSyncState, ShopSyncStatus
from app.models.types import utcnow
from app.sync.freshness import latency_summary

BACKLOG_STATES = (InboxStatus.PENDING, InboxStatus.PROCESSING)
DEAD_LETTER_PAGE = 50
STALE_RECONCILIATION = timedelta(hours=2)


@dataclass(frozen=True)
class SyncHealth:
    """The numbers behind the sync-health page and the home page's status line."""

    backlog: int
    oldest_pending_at: datetime | None
    dead: int
    freshness_p50_ms: int | None
    freshness_p95_ms: int | None
    freshness_samples: int
    api_available: int | None
    api_maximum: int | None
    api_restore_rate: int | None
    throttled_count: int
    last_reconciled_at: datetime | None
    webhooks_checked_at: datetime | None
    webhooks_missing: tuple[str, ...]
    # Syncer tasks whose last runs failed for this shop, waiting out their backoff (app/jobs/task_backoff.py).
    task_failures: tuple[TaskFailure, ...] = ()

    @property
    def api_used_share(self) -> float | None:
        """Share of the cost bucket in use at the last reading (0..1)."""
        if not self.api_maximum or self.api_available is None:
            return None
        return max(0.0, min(1.0, 1 - self.api_available / self.api_maximum))

    def status(self, now: datetime) -> str:
        """ok | warning | critical, for a badge: dead letters or missing webhooks are critical."""
        if self.dead or self.webhooks_missing:
            return "critical"
        stale = self.last_reconciled_at is not None and now - self.last_reconciled_at > STALE_RECONCILIATION
        if self.backlog > 1000 or stale or (self.freshness_p95_ms or 0) > 60_000 or self.task_failures:
            return "warning"
        return "ok"


def sync_health(
    session: Session, shop: Shop, now: datetime | None = None, freshness: dict[str, Any] | None = None
) -> SyncHealth:
    """The shop's sync health (a few indexed reads); `freshness` reuses percentiles computed earlier."""
    now = now or utcnow()
    # `shop_id + 0` keeps planners off the shop_id index (every delivery the shop ever had) and on the
    # (status, next_attempt_at) index, where pending and dead rows are few: without it SQLite scans them all.
    own = (InboxEvent.shop_id + 0) == shop.id
    backlog, oldest = session.execute(
        select(func.count(), func.min(InboxEvent.received_at)).where(
            InboxEvent.status.in_(BACKLOG_STATES), own
        )
    ).one()
    dead = session.scalar(select(func.count()).where(InboxEvent.status == InboxStatus.DEAD, own))
    fresh = freshness or latency_summary(session, shop.id, since=now - timedelta(hours=24))
    status = session.get(ShopSyncStatus, shop.id)
    return SyncHealth(
        backlog=int(backlog or 0),
        oldest_pending_at=oldest,
        dead=int(dead or 0),
        freshness_p50_ms=fresh["p50_ms"],
        freshness_p95_ms=fresh["p95_ms"],
        freshness_samples=int(fresh["count"] or 0),
        api_available=status.api_available if status else None,
        api_maximum=status.api_maximum if status else None,
        api_restore_rate=status.api_restore_rate if status else None,
        throttled_count=status.throttled_count if status else 0,
        last_reconciled_at=status.last_reconciled_at if status else None,
        webhooks_checked_at=status.webhooks_checked_at if status else None,
        webhooks_missing=tuple(status.webhooks_missing or ()) if status else (),
        task_failures=tuple(sorted(task_backoff.failures(session, shop.id).values(), key=lambda f: f.task)),
    )


def dead_letters(session: Session, shop: Shop, limit: int = DEAD_LETTER_PAGE) -> list[InboxEvent]:
    """The shop's dead-lettered deliveries, newest first."""
    return list(
        session.scalars(
            select(InboxEvent)
            .where(
                (InboxEvent.shop_id + 0) == shop.id, InboxEvent.status == InboxStatus.DEAD
            )  # see sync_health
            .order_by(InboxEvent.received_at.desc(), InboxEvent.id.desc())
            .limit(limit)
        )
    )


def unsynced_members(session: Session, shop: Shop) -> int:
    """Members whose newest change Shopify has not confirmed yet (the syncer's queue)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Member)
            .outerjoin(MemberSyncState, MemberSyncState.member_id == Member.id)
            .where(
                Member.shop_id == shop.id,
                Member.status == MemberStatus.ACTIVE,
                Member.shopify_customer_id.is_not(None),
                func.coalesce(MemberSyncState.confirmed_version, 0) < Member.sync_version,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class BackfillProgress:
    """One backfill job's progress as the progress bar shows it."""

    job_id: int
    kind: str
    status: str
    done: int
    total: int | None
    rate_per_s: float | None
    eta_seconds: int | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None

    @property
    def share(self) -> float | None:
        """Done / total in 0..1 (None while the total is unknown)."""
        if not self.total:
            return 1.0 if self.status == BackfillStatus.DONE else None
        return min(1.0, self.done / self.total)

    def as_json(self) -> dict[str, object]:
        """For the progress endpoint the page polls."""
        return {
            "id": self.job_id,
            "kind": self.kind,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "share": self.share,
            "rate_per_s": self.rate_per_s,
            "eta_seconds": self.eta_seconds,
            "finished": self.finished_at is not None
            or self.status in (BackfillStatus.DONE, BackfillStatus.FAILED),
        }


def backfill_progress(session: Session, shop: Shop, now: datetime | None = None) -> list[BackfillProgress]:
    """The newest job of each kind (orders, customers), with rate and ETA from its own progress."""
    now = now or utcnow()
    jobs = session.scalars(
        select(BackfillJob).where(BackfillJob.shop_id == shop.id).order_by(BackfillJob.id.desc()).limit(20)
    ).all()
    newest: dict[str, BackfillJob] = {}
    for job in jobs:
        newest.setdefault(job.kind, job)
    return [_progress(job, now) for job in sorted(newest.values(), key=lambda j: j.kind)]


def _progress(job: BackfillJob, now: datetime) -> BackfillProgress:
    end = job.finished_at or now
    elapsed = (end - job.started_at).total_seconds()
    rate = job.done / elapsed if elapsed > 0 and job.done else None
    eta = None
    if (
        rate
        and job.total
        and job.finished_at is None
        and job.status not in (BackfillStatus.DONE, BackfillStatus.FAILED)
    ):
        eta = int(max(job.total - job.done, 0) / rate)
    return BackfillProgress(
        job_id=job.id,
        kind=job.kind,
        status=job.status,
        done=int(job.done or 0),
        total=int(job.total) if job.total is not None else None,
        rate_per_s=round(rate, 1) if rate else None,
        eta_seconds=eta,
        started_at=job.started_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        error=job.error,
    )
