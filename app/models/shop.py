"""The shop aggregate: an installation, its encrypted tokens, and OAuth state nonces."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow


class ShopStatus(StrEnum):
    """Shop.status: whether the shop has the app."""

    INSTALLED = "installed"
    UNINSTALLED = "uninstalled"


class Shop(Model):
    """A Shopify store that installed the app; everything else hangs off its id."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(
        String(255), unique=True
    )  # "x.myshopify.com", validated before insert
    status: Mapped[str] = mapped_column(String(16), default=ShopStatus.INSTALLED)
    name: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str] = mapped_column(String(32), default="standard")  # API restore rate follows the plan
    currency: Mapped[str] = mapped_column(String(3), default="JPY")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    # The language staff use the app in (the admin's `locale` on the last app load): names of what the app
    # creates in the merchant's admin (segments) follow it. None until the app was opened once.
    locale: Mapped[str | None] = mapped_column(String(8))
    granted_scopes: Mapped[str] = mapped_column(Text, default="")
    # What Shopify resolves `$app` to in this shop (`app--<numeric app id>`), read from Shopify, never built
    # from the client id; None until learned (segments wait for it).
    app_namespace: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict
    )  # point/rank rules, tag prefix, channels
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shopify's numeric shop id (read after install): compliance bodies must name the same shop.
    shopify_shop_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    token: Mapped[ShopToken | None] = relationship(
        back_populates="shop", cascade="all, delete-orphan", uselist=False
    )

    @property
    def is_installed(self) -> bool:
        return self.status == ShopStatus.INSTALLED

    @property
    def scopes(self) -> set[str]:
        return {s.strip() for s in self.granted_scopes.split(",") if s.strip()}


class ShopToken(Model):
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


class OAuthState(Model):
    """A single-use state nonce for the authorization-code install path."""

    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_domain: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShopLocation(Model):
    """A Shopify location's name as last read from Shopify (GraphQL `Location.name`), by legacy id.

    Order webhooks name only `location_id`; the worker records unknown ids here and uses the cached name,
    the syncer reads the names from Shopify outside any worker transaction (app/sync/locations.py).
    """

    __tablename__ = "shop_locations"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the numeric legacy id
    name: Mapped[str | None] = mapped_column(String(255))  # None: not read from Shopify yet
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last asked (found or not)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
