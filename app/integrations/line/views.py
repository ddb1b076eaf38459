"""POST /integrations/line/webhooks/<shop>: LINE events for one shop's channel (signature verified).

Handled in the request because each event is one small local write and LINE wants a quick 200:
`LINK <token>` from the member card links the sender; STOP/停止 opts out, START/再開 opts back in;
unfollow (blocked) opts out, follow (unblocked) opts back in. Replies go through the outbox.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, jsonify, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import FollowEvent, MessageEvent, TextMessageContent, UnfollowEvent
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.integrations.line.links import link_user, set_opt_out
from app.integrations.line.tokens import LinkClaim, redeem
from app.integrations.secrets import unseal
from app.models.integrations import LineConnection, LineLink
from app.models.shop import Shop

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__, url_prefix="/integrations/line", cli_group=None)

LINK_TEXT = re.compile(r"^\s*(?:LINK|連携)\s+(\S+)\s*$", re.IGNORECASE)
STOP_WORDS = frozenset({"stop", "停止", "配信停止"})
START_WORDS = frozenset({"start", "再開", "配信再開"})


@bp.post("/webhooks/<shop_domain>")
def webhook(shop_domain: str):
    """401 on a bad signature (or an unknown shop); 200 once the events are applied."""
    shop = db.session.scalar(select(Shop).where(Shop.domain == shop_domain))
    connection = db.session.get(LineConnection, shop.id) if shop is not None else None
    if shop is None or connection is None:
        return jsonify(error="unauthorized"), 401
    secret = unseal(shop.id, "line_channel_secret", connection.channel_secret_enc)
    body = request.get_data(as_text=True)
    try:
        events = WebhookParser(secret).parse(body, request.headers.get("X-Line-Signature", ""))
    except InvalidSignatureError:
        return jsonify(error="unauthorized"), 401
    except (ValueError, KeyError, TypeError):
        return jsonify(error="malformed body"), 400
    try:
        for event in events:
            _apply(shop, event)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(error="unavailable"), 503  # LINE redelivers when asked to
    return jsonify(status="ok"), 200


def _used(shop: Shop, claim: LinkClaim) -> bool:
    """A token is good once: a link made for this customer after it was issued means it was redeemed."""
    link = db.session.scalar(
        select(LineLink).where(
            LineLink.shop_id == shop.id, LineLink.shopify_customer_id == claim.shopify_customer_id
        )
    )
    # Token times are whole seconds: a link in the same second as the issue counts as after it.
    return link is not None and link.linked_at.replace(microsecond=0) >= claim.issued_at


def _apply(shop: Shop, event: object) -> None:
    user_id = getattr(getattr(event, "source", None), "user_id", None)
    if not user_id:
        return  # group or room events name no user
    if isinstance(event, UnfollowEvent):
        set_opt_out(db.session, shop, user_id, True)
    elif isinstance(event, FollowEvent):
        set_opt_out(db.session, shop, user_id, False)
    elif isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
        text = event.message.text.strip()
        match = LINK_TEXT.match(text)
        if match:
            claim = redeem(match.group(1))
            if claim is None or claim.shop_id != shop.id:
                log.info("LINE link token refused for shop=%s (forged, expired or another shop)", shop.domain)
                return
            if _used(shop, claim):
                log.info("LINE link token refused for shop=%s (already used)", shop.domain)
                return
            language = "en" if text.upper().startswith("LINK") else "ja"
            link_user(db.session, shop, claim.shopify_customer_id, user_id, language)
        elif text.lower() in STOP_WORDS:
            set_opt_out(db.session, shop, user_id, True)
        elif text.lower() in START_WORDS:
            set_opt_out(db.session, shop, user_id, False)
