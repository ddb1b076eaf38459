"""Self-service redemption: the shopper turns points into a single-use discount code (app/points/redemption).

A proxied POST is signed like a GET: Shopify signs the query string it appends, not the body
(https://shopify.dev/docs/apps/build/online-store/display-dynamic-data), so the customer comes from the signed
`logged_in_customer_id` and nothing in the form can name another one. Because the shopper's browser sends
the storefront's cookies with any form posted to the shop's domain, a page from elsewhere could post on the
shopper's behalf: the confirmation page hands out a token bound to this shop, this customer, the amount and a
one-off request key, and only a POST carrying it is acted on. The request key makes a double submit return
the first code instead of taking the points twice.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.member import Member
from app.models.rewards import Redemption, RedemptionStatus
from app.models.shop import Shop
from app.points import redemption
from app.shopify.client import AdminClient
from app.shopify.errors import ShopifyError
from app.shopify.pacing import CostPacer

log = logging.getLogger(__name__)

SALT = "tsunagu/proxy-redeem"
TOKEN_AGE = 30 * 60  # seconds: time to read the confirmation and press the button
DEFAULT_STEP = 100  # points per step when the shop sets none (`Shop.settings["redeem_step"]`)
MAX_POINTS = 100_000  # one code at most: a typo must not turn a whole balance into one discount


@dataclass(frozen=True, slots=True)
class Request:
    """What a genuine confirmation token carries."""

    points: int
    key: str


class Refused(Exception):
    """A redemption the page cannot do: `message` is the catalogue key to show, `status` the HTTP code."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def step(shop: Shop) -> int:
    """The points a code is made of a multiple of (1..10,000; the default when unset or unreadable)."""
    raw = (shop.settings or {}).get("redeem_step", DEFAULT_STEP)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_STEP
    return value if 1 <= value <= 10_000 else DEFAULT_STEP


def choices(shop: Shop, available: int) -> list[int]:
    """The amounts the shopper can pick: every step up to what is available (and the per-code cap)."""
    unit = step(shop)
    top = min(max(available, 0), MAX_POINTS)
    return list(range(unit, top - top % unit + 1, unit))


def allowed(shop: Shop, points: int) -> bool:
    """Whether `points` is a whole number of steps within the per-code cap."""
    return 0 < points <= MAX_POINTS and points % step(shop) == 0


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_for(shop: Shop, customer_id: str, points: int) -> str:
    """The confirmation page's token: this shop, this customer, this amount, a new request key."""
    return _serializer().dumps([shop.id, str(customer_id), points, secrets.token_urlsafe(12)])


def read_token(shop: Shop, customer_id: str, token: str) -> Request:
    """The request of a genuine, fresh token issued to this customer of this shop; Refused otherwise."""
    try:
        shop_id, owner, points, key = _serializer().loads(token, max_age=TOKEN_AGE)
    except (BadSignature, ValueError, TypeError):
        log.warning("proxy redemption refused: bad or expired token (shop %s)", shop.id)
        raise Refused("redeem_expired_form", 403) from None
    if shop_id != shop.id or str(owner) != str(customer_id):
        log.warning("proxy redemption refused: token issued to another customer (shop %s)", shop.id)
        raise Refused("redeem_expired_form", 403)
    return Request(int(points), str(key))


def issue(session: Session, shop: Shop, member: Member, request: Request) -> Redemption:
    """The code for this request (the same one again for a repeated request); Refused when it cannot be."""
    if not allowed(shop, request.points):
        raise Refused("redeem_bad_amount", 422)
    request_key = f"member:{member.id}:{request.key}"
    try:
        row = redemption.redeem(
            session,
            shop,
            AdminClient(shop, session=session),
            CostPacer.for_plan(shop.plan),
            member.id,
            request.points,
            request_key=request_key,
            requested_by="member",
        )
    except redemption.InsufficientPoints:
        session.rollback()
        raise Refused("redeem_not_enough", 422) from None
    except redemption.RedemptionConflict:
        session.rollback()
        raise Refused("redeem_busy", 409) from None
    except redemption.RedemptionFailed:
        session.rollback()
        raise Refused("redeem_failed", 502) from None
    except ShopifyError:
        # Outcome unknown: the redemption stays `creating` and the sync runner finishes it (resume_creating).
        session.rollback()
        raise Refused("redeem_creating", 503) from None
    if row.member_id != member.id:  # a request key is per member: only a bug could get here
        raise Refused("redeem_expired_form", 403)
    if row.status == RedemptionStatus.FAILED:  # a repeat of a request Shopify refused
        raise Refused("redeem_failed", 502)
    if row.status == RedemptionStatus.CREATING:
        raise Refused("redeem_creating", 503)
    return row


def open_codes(session: Session, member: Member, now: datetime) -> list[Redemption]:
    """The member's codes that can still be used (or are still being created), newest first."""
    return list(
        session.scalars(
            select(Redemption)
            .where(
                Redemption.member_id == member.id,
                Redemption.status.in_((RedemptionStatus.ACTIVE, RedemptionStatus.CREATING)),
                Redemption.expires_at > now,
            )
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
            .limit(10)
        )
    )
