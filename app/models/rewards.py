"""Rewards: point redemptions (points held against a one-customer discount code) and point campaigns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
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


class CampaignStatus(StrEnum):
    """Campaign.status: draft (editable, previewable) -> active (started) -> stopped."""

    DRAFT = "draft"
    ACTIVE = "active"
    STOPPED = "stopped"


class Campaign(Model):
    """A point campaign: a multiplier period or a fixed bonus, rewarded in points or as a discount code.

    The rule itself is pure (app/domain/campaigns.py); this row holds the merchant's settings, the budget
    spent so far and the holdout share. Purchases and occasions count from `starts_at` to the earlier of
    `ends_at` and `stopped_at`, in event time.
    """

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_shop_status", "shop_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # multiplier | first_store_visit | first_online_after_store | birthday_month | lapsing
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    multiplier: Mapped[Decimal | None] = mapped_column(Numeric(6, 2, asdecimal=True))
    bonus_points: Mapped[int] = mapped_column(Integer, default=0)
    # {"channels": [...], "locations": [...], "ranks": [...], "weekdays": [0-6, Monday first]}; empty = any
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lapse_days: Mapped[int | None] = mapped_column(Integer)
    bonus_expiry_days: Mapped[int | None] = mapped_column(Integer)  # the bonus's own expiry; None = shop rule
    reward: Mapped[str] = mapped_column(String(16), default="points")  # points | code
    code_kind: Mapped[str | None] = mapped_column(String(16))  # free_shipping | amount | percentage
    code_value: Mapped[Decimal | None] = mapped_column(Money)
    code_valid_days: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[int | None] = mapped_column(Integer)  # points (points rewards) or codes (code rewards)
    granted: Mapped[int] = mapped_column(Integer, default=0)  # counted against the budget at first sight
    holdout_pct: Mapped[int] = mapped_column(Integer, default=0)  # members kept out, to measure the effect
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AwardStatus(StrEnum):
    """CampaignAward.status: what became of a member's occasion under a campaign."""

    GRANTED = "granted"
    HOLDOUT = "holdout"  # qualified, kept out on purpose: the comparison group
    OVER_BUDGET = "over_budget"
    WITHDRAWN = "withdrawn"  # history changed (a late sale, a merge) and the occasion no longer holds


class CampaignAward(Model):
    """One member's occasion under a campaign, decided once when first seen (budget and holdout).

    The replay reads granted awards as inputs and derives the bonus entries and their refund reversals.
    """

    __tablename__ = "campaign_awards"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id", "occasion"),
        Index("ix_campaign_awards_member", "member_id"),
        Index("ix_campaign_awards_campaign_status", "campaign_id", "status"),
        Index("ix_campaign_awards_code_status", "shop_id", "code_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    occasion: Mapped[str] = mapped_column(String(120))  # stable per campaign and member
    status: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer, default=0)  # as first granted, before any refund
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purchase_key: Mapped[str | None] = mapped_column(String(112))
    # Code rewards: creating -> active | failed; the code is for this customer only.
    code: Mapped[str | None] = mapped_column(String(32))
    code_status: Mapped[str | None] = mapped_column(String(16))
    discount_gid: Mapped[str | None] = mapped_column(String(128))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
