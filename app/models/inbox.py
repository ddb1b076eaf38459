"""The webhook inbox: every accepted delivery, persisted before we answer 200."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class InboxStatus(StrEnum):
    """InboxEvent.status: pending -> processing -> done | ignored | dead (replayable to pending)."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    IGNORED = "ignored"
    DEAD = "dead"


class InboxEvent(Model):
    """One delivery from Shopify or an external POS; workers claim rows and process them at least once."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        # The delivery id is the same across Shopify's retries: a duplicate delivery inserts nothing.
        UniqueConstraint("source", "shop_domain", "delivery_id"),
        Index("ix_inbox_events_claim", "status", "next_attempt_at"),
        # customers/redact scrubs the stored bodies that name the customer.
        Index("ix_inbox_events_subject", "shop_domain", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="shopify")  # shopify | smaregi
    shop_domain: Mapped[str] = mapped_column(String(255))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(128), index=True)
    api_version: Mapped[str | None] = mapped_column(String(16))
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)  # the raw body as received (already HMAC-verified)
    # What the body is about, read at record time so operators and redaction find rows without parsing.
    resource_id: Mapped[str | None] = mapped_column(String(64))  # order id (refunds: theirs), customer id
    customer_id: Mapped[str | None] = mapped_column(String(64))  # the Shopify customer the body names
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending -> processing -> done | ignored | dead (after too many tries; the reason is kept in last_error)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # body wiped by customers/redact

    @property
    def occurred_at(self) -> datetime:
        """When the event happened: Shopify's X-Shopify-Triggered-At, else when we received it (an upper
        bound: a late delivery can only look newer than it was, never older)."""
        return self.triggered_at or self.received_at
