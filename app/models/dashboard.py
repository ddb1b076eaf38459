"""Dashboard read models: the materialised home summary and the month-end closes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class DashboardSummary(Model):
    """The heavy home aggregates of one shop (spend by month and channel mix, LTV by rank), refreshed by the
    worker so the home page answers from one row whatever the shop's size (app/dashboard/summary.py)."""

    __tablename__ = "dashboard_summaries"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)  # what the refresh cost, for operators
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DashboardJobStatus:
    """DashboardJob.status: queued -> running -> done | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DashboardJob(Model):
    """Dashboard work staff asked for (a summary refresh, a rank-rules preview), done by the worker.

    A page request only adds the row and answers at once; the page polls the row for its progress and
    result, so no request runs a computation whose cost grows with the shop."""

    __tablename__ = "dashboard_jobs"
    __table_args__ = (Index("ix_dashboard_jobs_status_requested", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # summary | rules_preview
    status: Mapped[str] = mapped_column(String(16), default=DashboardJobStatus.QUEUED)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # an exception type, never a driver message
    locked_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in (DashboardJobStatus.DONE, DashboardJobStatus.FAILED)


class MonthEndClose(Model):
    """A closed month of one shop: rank snapshot counts and the points movements per day (reports.py)."""

    __tablename__ = "month_end_closes"
    __table_args__ = (UniqueConstraint("shop_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # "YYYY-MM" in the shop's time zone
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | staff
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    csv: Mapped[str] = mapped_column(Text, default="")  # the download, frozen at close time


class AnalyticsSnapshot(Model):
    """The analytics page's figures of one shop (F2 conversion, cohorts, RFM grid, LTV by channel mix),
    computed by the worker (app/analytics/snapshot.py): every figure reads the whole purchase history, so the
    page only ever reads this row."""

    __tablename__ = "analytics_snapshots"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)  # what the computation cost, for operators
    # Staff asked for new figures at this time; the worker's next round computes them.
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
