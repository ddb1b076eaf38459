"""The shopper's birth month on the points page: a form while none is known, the month once it is.

The month is set once by the shopper (app/members/birthdays.py says why; staff change it). The form posts like
the redemption does (app/proxy/redeem.py): Shopify signs the query it appends to a proxied POST, not the body
(https://shopify.dev/docs/apps/build/online-store/display-dynamic-data), so the customer comes from the signed
`logged_in_customer_id`, and the page hands out a token bound to this shop and this customer, so a page from
elsewhere cannot post a month on the shopper's behalf with the storefront's cookies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from babel import dates
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.members.birthdays import claim_birth_month
from app.models.member import Member
from app.models.shop import Shop

log = logging.getLogger(__name__)

SALT = "tsunagu/proxy-birth-month"
TOKEN_AGE = 2 * 60 * 60  # seconds: the points page may stay open a while before the shopper picks


@dataclass(frozen=True, slots=True)
class BirthMonthBlock:
    """What the points page shows: the month on file, or the form (its choices and token)."""

    month: str | None  # the month's name when one is on file
    choices: list[tuple[int, str]]
    token: str | None


def month_names(lang: str) -> list[tuple[int, str]]:
    """(1, "1月") ... (12, "12月") / (1, "January") ..., for the select."""
    names = dates.get_month_names("wide", locale=lang)
    return [(number, str(names[number])) for number in range(1, 13)]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def block_for(shop: Shop, customer_id: str, member: Member, lang: str) -> BirthMonthBlock:
    """The month on file, or a form whose token only this customer of this shop can post."""
    if member.birth_month is not None:
        return BirthMonthBlock(dict(month_names(lang))[member.birth_month], [], None)
    return BirthMonthBlock(None, month_names(lang), _serializer().dumps([shop.id, str(customer_id)]))


def submit(
    shop: Shop, customer_id: str, member: Member, form: Mapping[str, str], now: datetime
) -> tuple[str, int]:
    """Take the posted month: (catalogue key of the notice, HTTP status)."""
    try:
        shop_id, owner = _serializer().loads(form.get("token", "")[:400], max_age=TOKEN_AGE)
    except (BadSignature, ValueError, TypeError):
        log.warning("proxy birth month refused: bad or expired token (shop %s)", shop.id)
        return "birth_expired_form", 403
    if shop_id != shop.id or str(owner) != str(customer_id):
        log.warning("proxy birth month refused: token issued to another customer (shop %s)", shop.id)
        return "birth_expired_form", 403
    raw = form.get("month", "")
    month = int(raw) if raw.isdigit() and len(raw) <= 2 else 0
    if not 1 <= month <= 12:
        return "birth_bad_month", 422
    if not claim_birth_month(member, month, now):
        return "birth_taken", 409
    return "birth_saved", 200
