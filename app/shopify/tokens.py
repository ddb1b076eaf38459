"""The shop's offline token pair: encrypted at rest, refreshed one at a time across processes.

Refresh protocol (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens):
the refresh token rotates on every use, so two processes refreshing with the same one would leave one of them
holding a dead token. Every refresh therefore starts with
`UPDATE shop_tokens SET version = version + 1 WHERE shop_id = :id AND version = :seen` in its own transaction.
The winner keeps that row locked (PostgreSQL row lock; SQLite's single writer lock) while it calls Shopify,
then writes the new access token *and* the rotated refresh token in the same transaction and commits. Anyone
else blocks on that UPDATE, finds the version moved (0 rows), and re-reads the fresh token instead of
refreshing again. If the winner crashes, its transaction rolls back and the next caller refreshes.

Token writes use their own session (token_session), so they commit whatever the caller's transaction does:
a rotated refresh token that was used at Shopify but not stored would leave the shop without a token.
SQLite (demo only) has a single writer: a caller that holds a write transaction while a refresh is due makes
the refresh wait out the busy timeout and fail with ShopifyUnavailable; call Shopify outside write work.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shopify_app import TokenExchangeAccessToken
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Shop, ShopToken
from app.models.types import rows_affected, utcnow
from app.shopify.crypto import TokenCipher, TokenDecryptError, cipher_for, token_aad
from app.shopify.errors import ShopifyAuthError, ShopifyUnavailable
from app.shopify.http import shopify_http_client
from app.shopify.sdk import settings, shop_name, shopify_app

log = logging.getLogger(__name__)

# Refresh this long before expiry so a call started just before the deadline never carries a dead token.
REFRESH_MARGIN = timedelta(minutes=5)
# How long a caller waits for another process's refresh before giving up (Shopify answers in ~1 s).
CLAIM_PATIENCE = 15.0
REFRESH_DEAD = {"invalid_grant", "refresh_token_expired", "invalid_client"}


@dataclass(frozen=True)
class TokenGrant:
    """What Shopify handed over: an access token, its scopes, and (for expiring tokens) the refresh token."""

    access_token: str
    scope: str
    expires_at: datetime | None
    refresh_token: str | None
    refresh_expires_at: datetime | None

    @classmethod
    def from_sdk(cls, token: TokenExchangeAccessToken) -> TokenGrant:
        """From shopifyapp's result (ISO timestamps computed from expires_in)."""
        return cls(
            token.token,
            token.scope or "",
            _iso(token.expires),
            token.refresh_token or None,
            _iso(token.refresh_token_expires),
        )

    @classmethod
    def from_response(cls, body: dict[str, Any], now: datetime | None = None) -> TokenGrant:
        """From the JSON body of POST /admin/oauth/access_token (authorization-code grant)."""
        now = now or utcnow()
        expires_in, refresh_in = body.get("expires_in"), body.get("refresh_token_expires_in")
        return cls(
            str(body["access_token"]),
            str(body.get("scope") or ""),
            now + timedelta(seconds=int(expires_in)) if expires_in is not None else None,
            body.get("refresh_token") or None,
            now + timedelta(seconds=int(refresh_in)) if refresh_in is not None else None,
        )


def _iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@contextmanager
def token_session() -> Iterator[Session]:
    """A session with its own transaction: token writes commit whatever the caller's unit of work does.

    It binds to what db.session binds to: the engine in production (its own connection), the test's connection
    in rolled-back tests (a savepoint, rolled back with the test).
    """
    session = Session(
        bind=db.session.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _cipher() -> TokenCipher:
    return cipher_for(settings().token_encryption_keys)


def store_grant(session: Session, shop: Shop, grant: TokenGrant) -> ShopToken:
    """Encrypt and save the pair on the shop (insert or replace), bumping the version; caller commits."""
    if shop.id is None:
        session.flush()
    cipher = _cipher()
    row = session.get(ShopToken, shop.id)
    if row is None:
        row = ShopToken(shop_id=shop.id, version=0)
        session.add(row)
    row.access_token_enc = cipher.encrypt(grant.access_token, token_aad(shop.id, "access"))
    row.refresh_token_enc = (
        cipher.encrypt(grant.refresh_token, token_aad(shop.id, "refresh")) if grant.refresh_token else None
    )
    row.access_expires_at = grant.expires_at
    row.refresh_expires_at = grant.refresh_expires_at
    row.version = (row.version or 0) + 1
    return row


def access_token_for(shop: Shop, *, rejected: str | None = None) -> str:
    """A live access token for the shop, refreshed first if it expires soon or Shopify just `rejected` it."""
    deadline = time.monotonic() + CLAIM_PATIENCE
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        with token_session() as session:
            row = session.get(ShopToken, shop.id)
            if row is None:
                raise ShopifyAuthError("the shop has no access token; the merchant must open the app")
            cipher = _cipher()
            try:
                access = cipher.decrypt(row.access_token_enc, token_aad(shop.id, "access"))
            except TokenDecryptError as exc:
                log.error("token of shop %s cannot be decrypted: check TOKEN_ENCRYPTION_KEYS", shop.id)
                raise ShopifyAuthError(
                    "the stored token cannot be decrypted with the configured keys"
                ) from exc
            was_rejected = rejected is not None and hmac.compare_digest(access, rejected)
            if not was_rejected and not _expires_soon(row):
                return access
            if row.refresh_token_enc is None:
                if was_rejected:
                    raise ShopifyAuthError("Shopify rejected a non-expiring token")
                return access
            refresh = cipher.decrypt(row.refresh_token_enc, token_aad(shop.id, "refresh"))
            seen, refresh_expires_at = row.version, row.refresh_expires_at
            session.rollback()  # end the read: the claim below must be the transaction's first statement
            started = time.monotonic()
            try:
                claimed = rows_affected(
                    session.execute(
                        update(ShopToken)
                        .where(ShopToken.shop_id == shop.id, ShopToken.version == seen)
                        .values(version=seen + 1)
                        .execution_options(synchronize_session=False)
                    )
                )
            except OperationalError as exc:
                if not _sqlite_busy(exc):
                    raise
                if time.monotonic() - started > 1.0:
                    # We waited out the busy timeout: the writer is probably our own caller (SQLite has
                    # one writer). Refreshing needs a write of its own; call Shopify outside write work.
                    raise ShopifyUnavailable("database busy: cannot store a refreshed token now") from exc
                # SQLite refuses rather than waits while the refresher commits: same as losing the race.
                claimed = 0
            if claimed != 1:
                session.rollback()
                time.sleep(min(0.01 * 2**attempt, 0.25))
                continue  # another process refreshed while we waited on its lock: read its token
            return _refresh_claimed(session, shop, refresh, refresh_expires_at)
    raise ShopifyUnavailable("could not obtain the token refresh lock")


def _sqlite_busy(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


def _expires_soon(row: ShopToken) -> bool:
    return row.access_expires_at is not None and row.access_expires_at - REFRESH_MARGIN <= utcnow()


def _refresh_claimed(
    session: Session, shop: Shop, refresh_token: str, refresh_expires_at: datetime | None
) -> str:
    """Call Shopify while holding the claim; store both new tokens in the claim's transaction."""
    config = settings()
    with shopify_http_client(config) as http:
        result = shopify_app(config).refresh_token_exchanged_access_token(
            {
                "shop": shop_name(shop.domain),
                "refresh_token": refresh_token,
                # Empty expiry: we decided to refresh (margin or a 401); don't let the SDK second-guess it.
                "expires": "",
                "refresh_token_expires": refresh_expires_at.isoformat() if refresh_expires_at else "",
                "access_mode": "offline",
            },
            http_client=http,
        )
    if not result.ok or result.access_token is None or not result.access_token.token:
        code = result.log.code
        log.warning("token refresh failed for shop %s: %s", shop.id, code)
        if code in REFRESH_DEAD:
            # The refresh token is dead for good: drop the pair so the next app load exchanges a new one.
            session.execute(ShopToken.__table__.delete().where(ShopToken.shop_id == shop.id))
            session.commit()
            raise ShopifyAuthError(f"token refresh refused ({code}); the merchant must open the app")
        session.rollback()
        raise ShopifyUnavailable(f"token refresh failed ({code})")
    grant = TokenGrant.from_sdk(result.access_token)
    cipher = _cipher()
    session.execute(
        update(ShopToken)
        .where(ShopToken.shop_id == shop.id)
        .values(
            access_token_enc=cipher.encrypt(grant.access_token, token_aad(shop.id, "access")),
            refresh_token_enc=cipher.encrypt(grant.refresh_token, token_aad(shop.id, "refresh"))
            if grant.refresh_token
            else None,
            access_expires_at=grant.expires_at,
            refresh_expires_at=grant.refresh_expires_at,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    log.info("token refreshed for shop %s", shop.id)
    return grant.access_token


def existing_shop(session: Session, domain: str) -> Shop | None:
    """The shop row for a domain, if any."""
    return session.execute(select(Shop).where(Shop.domain == domain)).scalar_one_or_none()
