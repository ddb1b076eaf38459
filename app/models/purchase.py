"""Unified purchase history: every purchase across channels and every refund, as their newest state."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import Money, UTCDateTime, utcnow


class Purchase(Model):
    """One order (Shopify) or sale (Smaregi) of a member, as of its newest applied snapshot."""

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("shop_id", "source", "source_id"),
        Index("ix_purchases_member_processed", "member_id", "processed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # shopify | smaregi
    source_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # online | pos | external_pos | app | other
    location_key: Mapped[str | None] = mapped_column(String(80))
    location_name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    gross_amount: Mapped[Decimal] = mapped_column(Money)
    items_count: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # version of the newest applied snapshot
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discount_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Earning terms: the rank held before the purchase and the rate in force when it was (re)computed.
    earn_rank: Mapped[str | None] = mapped_column(String(32))
    earn_multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 3), default=Decimal("1"))
    earn_rate: Mapped[Decimal] = mapped_column(Numeric(10, 6), default=Decimal("0.01"))
    points: Mapped[int] = mapped_column(Integer, default=0)  # points credited for this order, net
    # Numbered the `earn_adjust` keys of earlier versions; the replay rewrites an order's one `earn` instead.
    points_revision: Mapped[int] = mapped_column(Integer, default=0)
    # The version of the shop rules its terms were worked out under (app/shops/rules.py).
    rules_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PurchaseRefund(Model):
    """A refund, kept once per refund id; it may arrive before its order (then `purchase_id` is empty)."""

    __tablename__ = "purchase_refunds"
    __table_args__ = (
        UniqueConstraint("shop_id", "source", "source_id"),
        Index("ix_purchase_refunds_order", "shop_id", "source", "order_source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchases.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(64))
    order_source_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
