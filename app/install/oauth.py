"""Authorization-code grant checks: query HMAC, shop domain, timestamp freshness, single-use state."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import OAuthState
from app.models.types import utcnow

# Shopify's timestamp is when it built the redirect; minutes old means a replayed or stale link.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
STATE_TTL = timedelta(minutes=10)


class OAuthRejected(Exception):
    """The callback fails a check; the message is safe to show (no secrets, no tokens)."""


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 over the sorted `key=value` pairs joined by `&`, without `hmac` and `signature`."""
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in {"hmac", "signature"})
    return hmac.new(secret.encode(), message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time equality of two strings from anywhere (hmac.compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def verify_query_hmac(params: Mapping[str, str], config: Settings) -> None:
    """Accept the current secret or, during a rotation, the previous one; compare in constant time."""
    given = params.get("hmac", "")
    secrets_ = [config.api_secret] + ([config.api_secret_previous] if config.api_secret_previous else [])
    if not given or not any(same(query_hmac(params, s), given) for s in secrets_):
        raise OAuthRejected("invalid hmac")


def verify_timestamp(params: Mapping[str, str], now: datetime | None = None) -> None:
    """The timestamp must be within TIMESTAMP_TOLERANCE of now, either way."""
    try:
        stamp = datetime.fromtimestamp(int(params.get("timestamp", "")), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise OAuthRejected("missing or malformed timestamp") from exc
    if abs((now or utcnow()) - stamp) > TIMESTAMP_TOLERANCE:
        raise OAuthRejected("stale timestamp")


def new_state(session: Session, shop_domain: str) -> str:
    """A fresh state nonce bound to the shop; old unused nonces are swept at the same time."""
    session.execute(delete(OAuthState).where(OAuthState.created_at < utcnow() - STATE_TTL))
    nonce = secrets.token_urlsafe(32)
    session.add(OAuthState(nonce=nonce, shop_domain=shop_domain))
    session.flush()
    return nonce


def consume_state(session: Session, nonce: str, shop_domain: str) -> None:
    """Mark the nonce used, exactly once: a conditional UPDATE, so two racing callbacks cannot both pass."""
    if not nonce or len(nonce) > 64:
        raise OAuthRejected("missing state")
    used = session.execute(
        update(OAuthState)
        .where(
            OAuthState.nonce == nonce,
            OAuthState.shop_domain == shop_domain,
            OAuthState.used_at.is_(None),
            OAuthState.created_at >= utcnow() - STATE_TTL,
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        raise OAuthRejected("unknown, expired or already used state")
