"""Month-end rank snapshots: every member's rank as it stood at the end of each month."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
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
