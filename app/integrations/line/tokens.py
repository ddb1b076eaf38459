"""Signed, expiring linking tokens: the member card hands one out, the LINE webhook redeems it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "tsunagu/line-link"
MAX_AGE = 30 * 60  # seconds: long enough to open LINE and press send, short enough not to leak usefully


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """Who a redeemed token was issued to."""

    shop_id: int
    shopify_customer_id: str
    issued_at: datetime


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue(shop_id: int, shopify_customer_id: str) -> str:
    """A token naming one customer of one shop."""
    return _serializer().dumps([shop_id, str(shopify_customer_id)])


def redeem(token: str, max_age: int = MAX_AGE) -> LinkClaim | None:
    """The claim of a genuine, fresh token; None if forged, altered or expired."""
    try:
        (shop_id, customer_id), issued = _serializer().loads(
            token.strip(), max_age=max_age, return_timestamp=True
        )
    except (BadSignature, ValueError, TypeError):
        return None
    return LinkClaim(int(shop_id), str(customer_id), issued.astimezone(UTC))
