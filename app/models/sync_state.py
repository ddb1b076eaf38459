"""What Shopify holds for the app: confirmed values per member, watermarks and budget per shop, segments."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class ShopSyncStatus(Model):
    """Per-shop watermarks and API budget readings for the sync-health page."""

    __tablename__ = "shop_sync_status"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    orders_watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)  # reconciliation: updated_at seen
    last_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    api_available: Mapped[int | None] = mapped_column(Integer)
    api_maximum: Mapped[int | None] = mapped_column(Integer)
    api_restore_rate: Mapped[int | None] = mapped_column(Integer)
    throttled_count: Mapped[int] = mapped_column(Integer, default=0)
    webhooks_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    webhooks_missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FreshnessSample(Model):
    """Webhook received -> metafield confirmed by Shopify, per update (p50/p95 on the dashboard)."""

    __tablename__ = "freshness_samples"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    latency_ms: Mapped[int] = mapped_column(Integer)


class MemberSyncState(Model):
    """What Shopify last confirmed for one member: metafield values and digests, tags, the version."""

    __tablename__ = "member_sync_states"
    __table_args__ = (Index("ix_member_sync_states_shop_version", "shop_id", "confirmed_version"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    customer_gid: Mapped[str | None] = mapped_column(String(64))  # the Shopify customer the values live on
    # The member's sync_version whose projection Shopify confirmed: dirty while Member.sync_version is higher.
    confirmed_version: Mapped[int] = mapped_column(Integer, default=0)
    # The version whose metafields Shopify holds (its tags may still wait for budget): a member above it
    # has metafields to write and goes before members that only wait for tags.
    written_version: Mapped[int | None] = mapped_column(Integer)
    values: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # key -> value Shopify holds
    digests: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # key -> compareDigest
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)  # the app's tags Shopify holds
    # Time-dependent values (rolling spend, dates) are re-projected once per shop-local day.
    projected_on: Mapped[date | None] = mapped_column(Date)
    # Earliest webhook receipt not yet reflected in Shopify (freshness samples measure from here).
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A version Shopify refused (bad value, deleted customer): skipped until the member changes again.
    failed_version: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SegmentStatus(StrEnum):
    """ShopSegment.status: not yet in Shopify, created there, or refused (its query is invalid)."""

    PENDING = "pending"
    CREATED = "created"
    INVALID = "invalid"


class ShopSegment(Model):
    """A Shopify customer segment the app created (a standard template or a merchant's custom one)."""

    __tablename__ = "shop_segments"
    __table_args__ = (UniqueConstraint("shop_id", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    handle: Mapped[str] = mapped_column(String(64))  # e.g. rank-gold-up, omni, custom-<n>
    kind: Mapped[str] = mapped_column(String(16), default="standard")  # standard | custom
    name: Mapped[str] = mapped_column(String(255))
    query: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the conditions, for DB counts
    shopify_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=SegmentStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    shopify_count: Mapped[int | None] = mapped_column(Integer)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
