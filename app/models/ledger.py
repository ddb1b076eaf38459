"""The points ledger: append-only transactions of balanced postings, point lots, and holds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class LedgerTransaction(Model):
    """One ledger event; (shop, source, source_id, kind) makes every credit and debit happen at most once."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("shop_id", "source", "source_id", "kind"),
        # The member timeline pages through a member's entries by when they happened.
        Index("ix_ledger_transactions_member_effective", "member_id", "effective_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchases.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))  # shopify | smaregi | staff | system | merge | reward
    source_id: Mapped[str] = mapped_column(String(96))
    # earn | earn_adjust | refund_reversal | mature | spend | expire | adjust | hold | capture | release
    # | merge | redact
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    # The instant it happened in the world (a sale, a refund, the end of a return window), not when the app
    # learned of it: month figures and the member timeline read this.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an opening balance's own expiry
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    postings: Mapped[list[LedgerPosting]] = relationship(
        back_populates="transaction", cascade="all, delete-orphan"
    )


class LedgerPosting(Model):
    """One leg of a transaction: points into (+) or out of (-) an account; the legs sum to zero."""

    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_member_account", "member_id", "account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transactions.id", ondelete="CASCADE"), index=True
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    # Set for member accounts (pending/available/held); None for the shop's accounts (and after redaction).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    account: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings")


class PointLot(Model):
    """Points from one credit (an order, a staff grant, an opening balance), as the replay of the member's
    history leaves them (app/points/engine.py): matured, spent and expired oldest first."""

    __tablename__ = "point_lots"
    __table_args__ = (
        Index("ix_point_lots_member_earned", "member_id", "earned_at"),
        UniqueConstraint("member_id", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(112))  # "<source>:<source id>" of what created it
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchases.id", ondelete="SET NULL"), index=True
    )
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    matures_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    remaining: Mapped[int] = mapped_column(Integer, default=0)  # available, not yet spent or expired
    matured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_expired: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as far as is known today


class HoldStatus(StrEnum):
    """PointHold.status: points held for a reward code, then redeemed (captured) or given back (released)."""

    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"


class PointHold(Model):
    """Points reserved for a reward code: captured when the code is used, released when it is not."""

    __tablename__ = "point_holds"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(96))  # e.g. the discount code id
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.HELD)
    allocations: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)  # [[lot key, points], ...]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
