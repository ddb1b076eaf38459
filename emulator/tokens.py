"""Offline access tokens and rotating refresh tokens, as Shopify issues them per shop."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# Shopify's published lifetimes for expiring offline tokens: the access token lives 60 minutes, the refresh
# token 90 days (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens).
ACCESS_TTL = 3600
REFRESH_TTL = 90 * 24 * 3600
# Since 2026-08-28 a used refresh token stays retryable until its replacement is used, for at most 30 days
# (https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens).
LENIENT_RETRY_WINDOW = 30 * 24 * 3600


class InvalidGrant(Exception):
    """A refresh token that is unknown, used, expired or revoked (Shopify answers 400 invalid_grant)."""


@dataclass
class _Access:
    scopes: frozenset[str]
    expires_at: float | None
    refresh_token: str | None


@dataclass
class _Refresh:
    scopes: frozenset[str]
    expires_at: float
    used_at: float | None = None
    # A replacement counts as "in use" once its refresh token or its access token has been presented.
    replacements: list[str] = field(default_factory=list)
    in_use: bool = False


class TokenStore:
    """Issues, refreshes, checks and revokes offline access tokens; safe to call from many threads."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        clock: Callable[[], float] = time.time,
        access_ttl: int = ACCESS_TTL,
        refresh_ttl: int = REFRESH_TTL,
        lenient_rotation: bool = False,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = clock
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        # Strict by default: an app that survives strict rotation also survives Shopify's lenient one.
        self.lenient_rotation = lenient_rotation
        self.refresh_count: Counter[str] = Counter()
        self.exchange_count: Counter[str] = Counter()
        self._access: dict[str, dict[str, _Access]] = {}
        self._refresh: dict[str, dict[str, _Refresh]] = {}
        self._lock = threading.Lock()

    def issue_offline(self, shop: str, scopes: set[str], expiring: bool = True) -> dict:
        """Issue an offline token pair; returns the JSON body of Shopify's access_token response."""
        with self._lock:
            self.exchange_count[shop] += 1
            return self._issue(shop, frozenset(scopes), expiring)

    def refresh(self, shop: str, refresh_token: str) -> dict:
        """Trade a refresh token for a new pair; the presented token is retired (rotation)."""
        with self._lock:
            now = self.clock()
            record = self._refresh.get(shop, {}).get(refresh_token)
            if record is None or now >= record.expires_at:
                raise InvalidGrant("refresh token is unknown, revoked or expired")
            if record.used_at is not None and not self._may_retry(shop, record, now):
                raise InvalidGrant("refresh token was already used")
            if record.used_at is None:
                record.used_at = now
            record.in_use = True
            self.refresh_count[shop] += 1
            body = self._issue(shop, record.scopes, expiring=True)
            record.replacements.append(body["refresh_token"])
            return body

    def check_access(self, shop: str, token: str) -> set[str] | None:
        """Scopes of a live access token for this shop, or None if unknown, expired or revoked."""
        with self._lock:
            record = self._access.get(shop, {}).get(token)
            if record is None:
                return None
            if record.expires_at is not None and self.clock() >= record.expires_at:
                return None
            if record.refresh_token is not None:
                paired = self._refresh.get(shop, {}).get(record.refresh_token)
                if paired is not None:
                    paired.in_use = True
            return set(record.scopes)

    def revoke(self, shop: str) -> None:
        """Forget every token of the shop (uninstall, or a test forcing re-authentication)."""
        with self._lock:
            self._access.pop(shop, None)
            self._refresh.pop(shop, None)

    def expire_access_tokens(self, shop: str) -> None:
        """Make the shop's access tokens expire now while its refresh tokens stay valid."""
        with self._lock:
            now = self.clock()
            for record in self._access.get(shop, {}).values():
                record.expires_at = now

    def live_access_tokens(self, shop: str) -> list[str]:
        """Access tokens of the shop that would pass check_access right now."""
        with self._lock:
            now = self.clock()
            return [
                token
                for token, record in self._access.get(shop, {}).items()
                if record.expires_at is None or now < record.expires_at
            ]

    def _may_retry(self, shop: str, record: _Refresh, now: float) -> bool:
        if not self.lenient_rotation or record.used_at is None:
            return False
        if now - record.used_at >= LENIENT_RETRY_WINDOW:
            return False
        refreshes = self._refresh.get(shop, {})
        return not any(refreshes[token].in_use for token in record.replacements if token in refreshes)

    def _issue(self, shop: str, scopes: frozenset[str], expiring: bool) -> dict:
        now = self.clock()
        access_token = "shpat_" + secrets.token_hex(16)
        body: dict = {"access_token": access_token, "scope": ",".join(sorted(scopes))}
        refresh_token = None
        if expiring:
            refresh_token = "shprt_" + secrets.token_hex(16)
            self._refresh.setdefault(shop, {})[refresh_token] = _Refresh(scopes, now + self.refresh_ttl)
            body |= {
                "expires_in": self.access_ttl,
                "refresh_token": refresh_token,
                "refresh_token_expires_in": self.refresh_ttl,
            }
        expires_at = now + self.access_ttl if expiring else None
        self._access.setdefault(shop, {})[access_token] = _Access(scopes, expires_at, refresh_token)
        return body
