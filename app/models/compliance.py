"""Compliance records: customer data exports kept for the merchant to download."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class ExportStatus(StrEnum):
    """DataExport.status: built and waiting for the merchant, or downloaded."""

    READY = "ready"
    DOWNLOADED = "downloaded"


class DataExport(Model):
    """Everything held about one customer, built for a `customers/data_request` (one row per request)."""

    __tablename__ = "data_exports"
    __table_args__ = (
        # Shopify's data_request id: a replayed or re-delivered request refreshes the same export.
        UniqueConstraint("shop_domain", "data_request_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shop_domain: Mapped[str] = mapped_column(String(255))
    shopify_customer_id: Mapped[str] = mapped_column(String(64))
    data_request_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ExportStatus.READY)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
