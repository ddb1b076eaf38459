"""Month-end rank snapshots (each member's rank at the end of each month) and month-close adjustments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class RankSnapshot(Model):
    """A member's rank at the end of a month (`period` = "YYYY-MM", in the shop's time zone)."""

    __tablename__ = "rank_snapshots"
    __table_args__ = (UniqueConstraint("shop_id", "member_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    rank: Mapped[str] = mapped_column(String(32))
    metric: Mapped[Decimal] = mapped_column(Numeric(16, 2))  # the basis value behind the rank
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonthCloseAdjustment(Model):
    """Late data found after a month was closed: the month recomputed from the ledger, never an edit of the
    close itself. `figures` are the recomputed month, `difference` what changed against the figures before
    (the close, or the previous adjustment), so the close plus every difference gives the current figures."""

    __tablename__ = "month_close_adjustments"
    __table_args__ = (UniqueConstraint("shop_id", "period", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # "YYYY-MM" in the shop's time zone, as the close
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per shop and month
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | staff
    reason: Mapped[str] = mapped_column(String(32))  # late_entries | changed_entries
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    difference: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. how many entries came late
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
