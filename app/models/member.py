"""The member aggregate: one person across Shopify and the store POS, its links and identity reviews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class MemberStatus(StrEnum):
    """Member.status: active, folded into another member, or deleted with its Shopify customer."""

    ACTIVE = "active"
    MERGED = "merged"
    DELETED = "deleted"


class Member(Model):
    """A loyalty member. No name, email or phone is stored: only keyed hashes for matching."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("shop_id", "member_number"),
        UniqueConstraint("shop_id", "shopify_customer_id"),
        Index("ix_members_shop_phone_hash", "shop_id", "phone_hash"),
        Index("ix_members_shop_email_hash", "shop_id", "email_hash"),
        Index("ix_members_shop_next_due", "shop_id", "next_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    # None for a store-only member not (yet) linked to a Shopify customer.
    shopify_customer_id: Mapped[str | None] = mapped_column(String(32))
    member_number: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MemberStatus.ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    email_hash: Mapped[str | None] = mapped_column(String(64))
    customer_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # newest customer event applied

    rank: Mapped[str] = mapped_column(String(32), default="regular")
    rank_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rank_floor: Mapped[str | None] = mapped_column(String(32))  # 固定ランク set by staff
    rank_floor_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rank_floor_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Cached balances: always equal to the sum of this member's ledger postings per account.
    points_pending: Mapped[int] = mapped_column(Integer, default=0)
    points_available: Mapped[int] = mapped_column(Integer, default=0)
    points_held: Mapped[int] = mapped_column(Integer, default=0)
    # Points owed after a refund of spent points (allow_negative policy): repaid from the next points.
    points_debt: Mapped[int] = mapped_column(Integer, default=0)
    points_flag: Mapped[str | None] = mapped_column(String(64))  # why staff should look (negative, write-off)
    last_earning_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Birth month only (1-12), for birthday-month campaigns: the day and year are never kept.
    birth_month: Mapped[int | None] = mapped_column(Integer)
    # The next instant a lot matures or expires or the rank can move by time alone: daily upkeep replays
    # only the members due (None: never replayed yet, so due).
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    line_linked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every change (app/members/records.py:touch); the syncer compares it with what it last sent.
    sync_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE


class ExternalLink(Model):
    """An identifier from outside Shopify (Smaregi member, paper card) that belongs to a member."""

    __tablename__ = "member_links"
    __table_args__ = (
        UniqueConstraint("shop_id", "source", "code"),
        UniqueConstraint("shop_id", "source", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # smaregi | card
    external_id: Mapped[str | None] = mapped_column(String(64))  # Smaregi customerId
    code: Mapped[str | None] = mapped_column(String(64))  # Smaregi customerCode / card number
    linked_by: Mapped[str] = mapped_column(
        String(16), default="created"
    )  # member_number|phone|email|staff|created
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewStatus(StrEnum):
    """IdentityReview.status: waiting for staff, linked to a member, or dismissed."""

    OPEN = "open"
    LINKED = "linked"
    DISMISSED = "dismissed"


class IdentityReview(Model):
    """A store member that matched several members: staff decide, the app never merges on a guess."""

    __tablename__ = "identity_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )  # the store member
    matched_by: Mapped[str] = mapped_column(String(16))  # member_number | phone | email
    candidate_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.OPEN)
    resolved_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomerTombstone(Model):
    """A redacted customer (keyed hash of the Shopify id): replayed old events must not bring them back."""

    __tablename__ = "customer_tombstones"
    __table_args__ = (UniqueConstraint("shop_id", "customer_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    customer_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
