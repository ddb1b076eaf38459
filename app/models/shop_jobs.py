"""Per-shop background work: named leases, the install backfill's progress, opening-balance imports and
member rebuilds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class ShopLease(Model):
    """A named lease per shop (e.g. the syncer): one holder at a time, expiring if the holder dies."""

    __tablename__ = "shop_leases"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BackfillStatus(StrEnum):
    """BackfillJob.status: pending -> running (bulk operation) -> downloading (result) -> done; or failed."""

    PENDING = "pending"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"


# A job still at work: at most one per shop and kind, failed when the app is uninstalled.
BACKFILL_OPEN = (BackfillStatus.PENDING, BackfillStatus.RUNNING, BackfillStatus.DOWNLOADING)


class BackfillJob(Model):
    """An install backfill (bulk operation) with resumable progress."""

    __tablename__ = "backfill_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # orders | customers
    bulk_operation_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=BackfillStatus.PENDING)
    total: Mapped[int | None] = mapped_column(BigInteger)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    lines_consumed: Mapped[int] = mapped_column(BigInteger, default=0)  # resume point in the JSONL
    result_url: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OpeningImportStatus(StrEnum):
    """OpeningImport.status: applied (every row credited) or rejected (nothing credited, see `errors`)."""

    APPLIED = "applied"
    REJECTED = "rejected"


class OpeningImport(Model):
    """One uploaded file of opening balances; its content hash makes a file apply at most once per shop.

    Keeps no value from the file (no phone, email or member number): `errors` holds line numbers and codes.
    """

    __tablename__ = "opening_imports"
    __table_args__ = (UniqueConstraint("shop_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RebuildStatus(StrEnum):
    """MemberRebuild.status: pending -> running -> done; failed after repeated errors."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


REBUILD_OPEN = (RebuildStatus.PENDING, RebuildStatus.RUNNING)


class MemberRebuild(Model):
    """Members whose points must be re-derived after a change of the shop's rules, worked off in batches
    by the worker (too many for one request); `done` is the resume point in `member_ids`."""

    __tablename__ = "member_rebuilds"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # earn_since | opening
    member_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    done: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=RebuildStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
