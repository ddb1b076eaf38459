"""Point redemptions: points held against a single-use Shopify discount code for one customer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import Money, UTCDateTime, utcnow


class RedemptionStatus(StrEnum):
    """Redemption.status: creating (points held, no code yet) -> active -> used | expired; or failed."""

    CREATING = "creating"
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    FAILED = "failed"


class Redemption(Model):
    """Points turned into a discount code: held while the code is open, spent on use, returned on expiry."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("shop_id", "code"),
        UniqueConstraint("shop_id", "request_key"),
        Index("ix_redemptions_shop_status_expires", "shop_id", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    # The caller's idempotency key (a form token / request id): a retried request returns the same code.
    request_key: Mapped[str] = mapped_column(String(96))
    points: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)  # money off, in the shop currency
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(32))
    hold_key: Mapped[str] = mapped_column(String(96))  # PointHold.key in the ledger
    discount_gid: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=RedemptionStatus.CREATING)
    requested_by: Mapped[str] = mapped_column(String(16), default="staff")  # staff | member
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_order_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
