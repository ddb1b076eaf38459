"""POST /pos/api/...: member lookup, points to a discount code, paper-card linking, for the POS extension.

Bodies are JSON (personal data such as a phone number stays out of URLs and access logs). Errors are JSON
`{"error": code, "message": text}`: the extension shows its own localised text for the code.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import g, jsonify, request

from app.customers import card_migration
from app.extensions import db
from app.models.rewards import RedemptionStatus
from app.models.types import utcnow
from app.points import redemption
from app.pos import bp
from app.pos import members as pos_members
from app.pos.auth import actor, allow_cross_origin, error, pos_session
from app.proxy.redeem import MAX_POINTS, allowed, step
from app.shopify.client import AdminClient
from app.shopify.errors import ShopifyError
from app.shopify.pacing import CostPacer

log = logging.getLogger(__name__)

VALUE_MAX = 64  # a member number, a phone in any notation, a card code
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # the extension sends a random UUID per redemption
LOOKUP_FIELDS = ("code", "member_number", "phone")

bp.after_request(allow_cross_origin)


class BadInput(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("The body must be a JSON object.")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInput(f"`{name}` is required.")
        return None
    if not isinstance(value, str) or len(value) > VALUE_MAX:
        raise BadInput(f"`{name}` must be text of at most {VALUE_MAX} characters.")
    return value.strip()


@bp.errorhandler(BadInput)
def _bad_input(exc: BadInput):
    return error(400, "bad_request", exc.message)


@bp.post("/members/lookup")
@pos_session
def lookup():
    """`{"code"|"member_number"|"phone": ...}` -> the matching members of this shop, summarised."""
    body = _body()
    given = [name for name in LOOKUP_FIELDS if body.get(name) not in (None, "")]
    if len(given) != 1:
        raise BadInput("Send exactly one of `code`, `member_number` or `phone`.")
    by = given[0]
    value = _text(body, by)
    assert value is not None  # required
    found = pos_members.find(db.session, g.shop, by, value)  # type: ignore[arg-type]  # one of LOOKUP_FIELDS
    if not found:
        log.info("pos lookup by %s: no member (shop %s)", by, g.shop.id)
        return error(404, "not_found", "No member matches.")
    now = utcnow()
    summaries = [pos_members.summary(db.session, g.shop, m, now) for m in found]
    return jsonify(members=summaries, redeem_step=step(g.shop))


@bp.post("/redemptions")
@pos_session
def redeem():
    """`{"member_number", "points", "key"}` -> a single-use code for the member's customer.

    The same key returns the same code (a retry after a lost response), never a second one."""
    body = _body()
    number = _text(body, "member_number")
    key = _text(body, "key")
    points = body.get("points")
    if not isinstance(points, int) or isinstance(points, bool):
        raise BadInput("`points` must be a whole number.")
    if not KEY_PATTERN.fullmatch(key or ""):
        raise BadInput("`key` must be 8-64 letters, digits, '-' or '_'.")
    member = pos_members.by_number(db.session, g.shop, number or "")
    if member is None:
        return error(404, "not_found", "No member with this number.")
    if not allowed(g.shop, points):
        return error(422, "bad_amount", f"Points must be a multiple of {step(g.shop)}, up to {MAX_POINTS}.")
    if not member.shopify_customer_id:
        return error(422, "no_customer", "The member has no Shopify customer to bind a code to.")
    try:
        row = redemption.redeem(
            db.session,
            g.shop,
            AdminClient(g.shop, session=db.session),
            CostPacer.for_plan(g.shop.plan),
            member.id,
            points,
            request_key=f"pos:{member.id}:{key}",
        )
    except redemption.InsufficientPoints:
        db.session.rollback()
        return error(422, "not_enough_points", "The member does not have enough points.")
    except redemption.RedemptionConflict:
        db.session.rollback()
        return error(409, "busy", "The member's points changed meanwhile. Try again.")
    except redemption.RedemptionFailed:
        db.session.rollback()
        return error(502, "shopify_refused", "Shopify refused the discount code; the points were given back.")
    except ShopifyError:
        db.session.rollback()  # outcome unknown: the redemption stays `creating` and is finished later
        return error(503, "creating", "The code is still being created. Try again with the same request.")
    if row.points != points:  # the key was used before, for another amount
        return error(409, "key_reused", "This request key was already used for another amount.")
    if row.status == RedemptionStatus.FAILED:
        return error(502, "shopify_refused", "Shopify refused the discount code; the points were given back.")
    if row.status == RedemptionStatus.CREATING:
        return error(503, "creating", "The code is still being created. Try again with the same request.")
    log.info("pos redemption %s: %s points for member %s by %s", row.id, row.points, member.id, actor())
    return jsonify(
        code=row.code,
        points=row.points,
        amount=str(row.amount),
        currency=row.currency,
        expires_at=row.expires_at.isoformat(),
        customer_id=pos_members.customer_number(member),
    )


@bp.post("/cards/link")
@pos_session
def link_card():
    """`{"card", "member_number", "factor"}` -> the paper card's points and history moved to the member.

    The customer proves the card is theirs with the phone or email on file for the card's member, exactly
    as at the admin's card page (app/customers/card_migration.py, tries limited per card).
    """
    body = _body()
    card = _text(body, "card")
    number = _text(body, "member_number")
    factor = _text(body, "factor")
    result = card_migration.migrate_card(
        db.session,
        g.shop,
        card_code=card or "",
        factor=factor or "",
        member_number=number or "",
        actor=actor(),
    )
    db.session.commit()  # a refused try is kept: it counts toward the card's limit
    outcome = result.outcome
    if outcome in ("unknown_card", "unknown_member"):
        return error(404, outcome, "No such card." if outcome == "unknown_card" else "No such member.")
    if outcome == "mismatch":
        message = "The phone or email does not match the card."
        return jsonify(error="mismatch", message=message, failures_left=result.failures_left), 422
    if outcome == "limited":
        minutes = int(card_migration.WINDOW.total_seconds() // 60)
        return error(429, "limited", f"Too many wrong tries for this card. Wait {minutes} minutes.")
    if outcome in ("no_factor", "other_customer"):
        return error(409, outcome, "This card cannot be linked at the register; ask the admin.")
    assert result.member is not None  # migrated or already
    return jsonify(outcome=outcome, member_number=result.member.member_number)
