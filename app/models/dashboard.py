"""Dashboard read models: the materialised home summary and the month-end closes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
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
