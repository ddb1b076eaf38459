"""The shop aggregate: an installation, its encrypted tokens, and OAuth state nonces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

INSTALLED = "installed"  # Shop.status of a shop that has the app (the other: "uninstalled")


class Shop(db.Model):
    """A Shopify store that installed the app; everything else hangs off its id."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(
        String(255), unique=True
    )  # "x.myshopify.com", validated before insert
    status: Mapped[str] = mapped_column(String(16), default=INSTALLED)  # installed | uninstalled
    name: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str] = mapped_column(String(32), default="standard")  # API restore rate follows the plan
    currency: Mapped[str] = mapped_column(String(3), default="JPY")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    granted_scopes: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict
    )  # point/rank rules, tag prefix, channels
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    token: Mapped[ShopToken | None] = relationship(
        back_populates="shop", cascade="all, delete-orphan", uselist=False
    )

    @property
    def is_installed(self) -> bool:
        return self.status == INSTALLED

    @property
    def scopes(self) -> set[str]:
        return {s.strip() for s in self.granted_scopes.split(",") if s.strip()}


class ShopToken(db.Model):
    """The shop's expiring offline token pair, encrypted at rest (AES-GCM, see app/shopify/crypto.py)."""

    __tablename__ = "shop_tokens"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on every refresh: a compare-and-swap on it lets exactly one process refresh at a time.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    shop: Mapped[Shop] = relationship(back_populates="token")


class OAuthState(db.Model):
    """A single-use state nonce for the authorization-code install path."""

    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_domain: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
