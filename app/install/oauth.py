"""Authorization-code grant checks: query HMAC, shop domain, timestamp freshness, single-use state."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
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


def _state_signature(secret: str, shop_domain: str, nonce: str, issued: str) -> str:
    mac = hmac.new(secret.encode(), f"oauth-state|{shop_domain}|{nonce}|{issued}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip("=")


def new_state(shop_domain: str, secret: str, now: datetime | None = None) -> str:
    """A fresh state bound to the shop and signed with the app's secret key; nothing is written.

    `GET /auth` is reachable by anyone: it must not cost a database row. The state carries its own proof
    (nonce, issue time, HMAC) and is spent — recorded once — only by a callback whose query HMAC verified.
    """
    nonce = secrets.token_urlsafe(18)
    issued = str(int((now or utcnow()).timestamp()))
    return f"{nonce}.{issued}.{_state_signature(secret, shop_domain, nonce, issued)}"


def consume_state(session: Session, state: str, shop_domain: str, secret: str) -> None:
    """Check the state's signature and age, then spend it exactly once (a unique row per state)."""
    if not state or len(state) > 64 or state.count(".") != 2:
        raise OAuthRejected("missing state")
    nonce, issued, signature = state.split(".")
    if not same(_state_signature(secret, shop_domain, nonce, issued), signature):
        raise OAuthRejected("unknown state or state issued for another shop")
    try:
        age = utcnow() - datetime.fromtimestamp(int(issued), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise OAuthRejected("malformed state") from exc
    if not timedelta(0) - TIMESTAMP_TOLERANCE <= age <= STATE_TTL:
        raise OAuthRejected("expired state")
    # Spent states older than the TTL can no longer verify: sweep them while we are here.
    session.execute(delete(OAuthState).where(OAuthState.created_at < utcnow() - STATE_TTL))
    try:
        with session.begin_nested():  # two racing callbacks: the second INSERT hits the primary key
            session.add(OAuthState(nonce=state, shop_domain=shop_domain, used_at=utcnow()))
    except IntegrityError as exc:
        raise OAuthRejected("state already used") from exc
