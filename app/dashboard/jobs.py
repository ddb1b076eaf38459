"""The dashboard's background work, run by the worker's scheduled hook (app/dispatch.py SCHEDULED_JOBS).

- Jobs staff asked for (DashboardJob rows: "refresh now", the rank-rules preview): the request only adds the
  row; the worker claims it here, records progress and stores the result the page polls for.
- Summaries whose inputs changed (the watermark moved), that are missing or older than SUMMARY_MAX_AGE.
- Segment counts (a projection of every member in Python): their own, slower cadence.
- Month-end closes.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.dashboard.reports import close_due_months
from app.dashboard.summary import SUMMARY_MAX_AGE, Importing, importing, refresh_summary, watermark
from app.domain.ranks import RankPreview
from app.domain.settings import RulesError, ShopRules
from app.extensions import db
from app.models.dashboard import DashboardJob, DashboardJobStatus, DashboardSummary
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)

SUMMARY = "summary"
RULES_PREVIEW = "rules_preview"
KINDS = (SUMMARY, RULES_PREVIEW)
# A job still running after this long lost its worker (killed, OOM): it is queued again.
STALE_RUNNING = timedelta(minutes=15)
# Staff-requested jobs done per scheduled round at most, so the webhook inbox is never starved for long.
ROUND_BUDGET_S = 60.0
# A changed shop is recomputed at most once per this many of its own last durations (a busy large shop
# would otherwise spend the worker on summaries).
DIRTY_GAP_FACTOR = 5
SEGMENT_COUNTS_MAX_AGE = timedelta(hours=1)
KEEP_FINISHED = timedelta(days=1)


def enqueue(session: Session, shop: Shop, kind: str, params: dict[str, Any] | None = None) -> DashboardJob:
    """Queue a job (the caller commits). A summary refresh already waiting is reused, not doubled."""
    if kind not in KINDS:
        raise ValueError(f"unknown dashboard job kind {kind!r}")
    if kind == SUMMARY:
        waiting = open_job(session, shop, SUMMARY)
        if waiting is not None:
            return waiting
    job = DashboardJob(shop_id=shop.id, kind=kind, params=params or {}, status=DashboardJobStatus.QUEUED)
    session.add(job)
    session.flush()
    return job


@dataclass(frozen=True)
class SummaryStatus:
    """What the home's status line says: the stored summary's time, a refresh waiting or running, the
    install backfill's progress."""

    summary_at: datetime | None
    job: DashboardJob | None
    importing: Importing | None
    failed: bool = False  # the last refresh staff asked for failed (within the hour)

    @property
    def busy(self) -> bool:
        """Whether the page should keep polling."""
        return self.job is not None or self.importing is not None or self.summary_at is None

    def changed_since(self, seen: str) -> bool:
        """Whether newer figures than the page's (`seen`: its summary time, ISO) are ready to show."""
        return self.summary_at is not None and self.summary_at.isoformat() != seen and self.importing is None

    def job_json(self) -> dict[str, Any] | None:
        if self.job is None:
            return None
        return {"id": self.job.id, "status": self.job.status}


def summary_status(session: Session, shop: Shop) -> SummaryStatus:
    """The home's status line facts (three indexed reads)."""
    stored = session.get(DashboardSummary, shop.id)
    last = session.scalar(
        select(DashboardJob)
        .where(DashboardJob.shop_id == shop.id, DashboardJob.kind == SUMMARY)
        .order_by(DashboardJob.id.desc())
        .limit(1)
    )
    failed = (
        last is not None
        and last.status == DashboardJobStatus.FAILED
        and (last.finished_at or last.requested_at) > utcnow() - timedelta(hours=1)
    )
    return SummaryStatus(
        summary_at=stored.computed_at if stored is not None else None,
        job=last if last is not None and not last.finished else None,
        importing=importing(session, shop),
        failed=failed,
    )


def open_job(session: Session, shop: Shop, kind: str) -> DashboardJob | None:
    """The shop's queued or running job of `kind`, if any (the newest)."""
    return session.scalar(
        select(DashboardJob)
        .where(DashboardJob.shop_id == shop.id, DashboardJob.kind == kind)
        .where(DashboardJob.status.in_((DashboardJobStatus.QUEUED, DashboardJobStatus.RUNNING)))
        .order_by(DashboardJob.id.desc())
        .limit(1)
    )


def job_for(session: Session, shop: Shop, job_id: int) -> DashboardJob | None:
    """One of the shop's jobs (None for another shop's id: ids are guessable)."""
    job = session.get(DashboardJob, job_id)
    return job if job is not None and job.shop_id == shop.id else None


def claim(session: Session, worker: str, now: datetime) -> DashboardJob | None:
    """Take the oldest queued job and mark it running (committed); PostgreSQL workers skip each other's."""
    session.execute(  # a worker that died mid-job gave it up
        update(DashboardJob)
        .where(
            DashboardJob.status == DashboardJobStatus.RUNNING, DashboardJob.started_at < now - STALE_RUNNING
        )
        .values(status=DashboardJobStatus.QUEUED, locked_by=None)
        .execution_options(synchronize_session=False)
    )
    job = session.scalar(
        select(DashboardJob)
        .where(DashboardJob.status == DashboardJobStatus.QUEUED)
        .order_by(DashboardJob.requested_at, DashboardJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job is None:
        session.commit()
        return None
    job.status = DashboardJobStatus.RUNNING
    job.locked_by = worker
    job.started_at = now
    job.progress_done = 0
    session.commit()
    return job


def run_job(session: Session, job: DashboardJob, now: datetime | None = None) -> DashboardJob:
    """Do a claimed job and store its outcome (commits). A failure is recorded by exception type only."""
    now = now or utcnow()
    job_id = job.id
    try:
        shop = session.get(Shop, job.shop_id)
        if shop is None or not shop.is_installed:
            raise LookupError("shop is not installed")
        if job.kind == SUMMARY:
            summary = refresh_summary(session, shop, now)
            job.result = {"duration_ms": summary.duration_ms}
        else:
            job.result = _preview(session, shop, job, now)
        job.status = DashboardJobStatus.DONE
        job.finished_at = utcnow()
        session.commit()
    except Exception as exc:
        session.rollback()
        failed = session.get(DashboardJob, job_id)
        if failed is None:
            raise
        failed.status = DashboardJobStatus.FAILED
        failed.error = type(exc).__name__
        failed.finished_at = utcnow()
        session.commit()
        log.error("dashboard job %d (%s) failed: %s", job_id, failed.kind, type(exc).__name__)
        return failed
    return job


def _preview(session: Session, shop: Shop, job: DashboardJob, now: datetime) -> dict[str, Any]:
    """The rank-rules preview, with progress committed as pages of members are evaluated."""
    from app.points.ranks import preview_rules

    try:
        ranks = ShopRules.from_json({"ranks": job.params.get("ranks")}).ranks
    except RulesError as exc:
        raise ValueError("stored preview rules are unreadable") from exc

    def progress(done: int, total: int) -> None:
        job.progress_done, job.progress_total = done, total
        session.commit()

    result = preview_rules(session, shop, ranks, now, progress=progress)
    return {
        "up": result.up,
        "down": result.down,
        "unchanged": result.unchanged,
        "moves": [[src, dst, n] for (src, dst), n in sorted(result.moves.items())],
    }


def preview_result(job: DashboardJob) -> RankPreview | None:
    """A finished preview job's result in the domain's shape (None until it is done)."""
    if job.status != DashboardJobStatus.DONE or not job.result:
        return None
    r = job.result
    moves = {(src, dst): int(n) for src, dst, n in r.get("moves", [])}
    return RankPreview(up=int(r["up"]), down=int(r["down"]), unchanged=int(r["unchanged"]), moves=moves)


def run_queued_jobs(session: Session, now: datetime | None = None, budget_s: float = ROUND_BUDGET_S) -> int:
    """Claim and run queued jobs until none is left or the round's time budget is spent."""
    worker = f"{os.uname().nodename}:{os.getpid()}"
    started = time.monotonic()
    done = 0
    while time.monotonic() - started < budget_s:
        job = claim(session, worker, now or utcnow())
        if job is None:
            break
        run_job(session, job, now)
        done += 1
    return done


def refresh_stale_summaries(
    session: Session, now: datetime | None = None, max_age: timedelta = SUMMARY_MAX_AGE
) -> int:
    """Refresh every installed shop's summary that is missing, older than `max_age`, or whose inputs
    changed since (watermark), at most once per DIRTY_GAP_FACTOR of its last duration; commits per shop."""
    now = now or utcnow()
    rows = session.execute(
        select(Shop, DashboardSummary)
        .outerjoin(DashboardSummary, DashboardSummary.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.INSTALLED)
        .order_by(Shop.id)
    ).all()
    refreshed = 0
    for shop, summary in rows:
        if summary is not None and summary.computed_at >= now - max_age:
            gap = timedelta(milliseconds=summary.duration_ms * DIRTY_GAP_FACTOR)
            if summary.computed_at > now - gap:
                continue
            if summary.data.get("watermark") == watermark(session, shop):
                continue
        done = refresh_summary(session, shop, now)
        session.commit()
        refreshed += 1
        log.info("dashboard summary shop=%d refreshed in %d ms", shop.id, done.duration_ms)
    return refreshed


def refresh_segment_counts(session: Session, now: datetime | None = None) -> int:
    """Members per segment from the app's own data, for shops whose counts are older than an hour or that
    have a segment not counted yet (the segments page reads them from the summary); commits per shop."""
    from app.models.sync_state import ShopSegment
    from app.sync.segment_templates import SegmentDefinitionError
    from app.sync.segments import app_counts

    now = now or utcnow()
    summaries = session.scalars(
        select(DashboardSummary)
        .join(Shop, Shop.id == DashboardSummary.shop_id)
        .where(Shop.status == ShopStatus.INSTALLED)
        .order_by(DashboardSummary.shop_id)
    ).all()
    counted = 0
    for summary in summaries:
        handles = set(
            session.scalars(select(ShopSegment.handle).where(ShopSegment.shop_id == summary.shop_id))
        )
        data = summary.data or {}
        at = data.get("segments_at")
        fresh = at is not None and datetime.fromisoformat(at) >= now - SEGMENT_COUNTS_MAX_AGE
        if not handles or (fresh and handles <= set(data.get("segments", {}))):
            continue
        shop = session.get(Shop, summary.shop_id)
        try:
            counts = app_counts(session, shop, now)  # type: ignore[arg-type]  # joined: the shop exists
        except SegmentDefinitionError:  # a stored definition the app can no longer read: shown as unknown
            log.warning("segment counts for shop %d skipped: unreadable definition", summary.shop_id)
            counts = {}
        summary.data = {**data, "segments": counts, "segments_at": now.isoformat()}
        session.commit()
        counted += 1
    return counted


def purge_finished_jobs(session: Session, now: datetime) -> int:
    """Finished jobs are only read by the page that asked for them: a day later they go."""
    result = session.execute(
        delete(DashboardJob).where(
            DashboardJob.status.in_((DashboardJobStatus.DONE, DashboardJobStatus.FAILED)),
            DashboardJob.finished_at < now - KEEP_FINISHED,
        )
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)  # a DELETE's result: a cursor result with a count


def run_scheduled_reports(now: datetime | None = None) -> dict[str, int]:
    """Staff-requested jobs first, then month-end closes, changed or stale summaries, segment counts
    (cheap when nothing is due; commits itself)."""
    now = now or utcnow()
    done = {
        "jobs": run_queued_jobs(db.session),
        "closed": close_due_months(db.session, now),
        "summaries": refresh_stale_summaries(db.session, now),
        "segments": refresh_segment_counts(db.session, now),
        "purged": purge_finished_jobs(db.session, now),
    }
    if any(done.values()):
        log.info("dashboard jobs: %s", done)
    return done
