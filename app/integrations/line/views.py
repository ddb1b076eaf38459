"""POST /integrations/line/webhooks/<shop>: LINE events for one shop's channel (signature verified).

Handled in the request because each event is one small local write and LINE wants a quick 200:
「連携」/LINK (or a rich-menu postback `action=link`) starts LINE's account link (accountlink.py: a link token
and a reply, the only calls out); `accountLink` completes it; STOP/停止 opts out, START/再開 opts back in;
unfollow (blocked) opts out, follow (unblocked) opts back in. Other messages go through the outbox.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, jsonify, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import (
    AccountLinkEvent,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.integrations.line.accountlink import complete_link, start_link
from app.integrations.line.links import set_opt_out
from app.integrations.secrets import unseal
from app.models.integrations import LineConnection
from app.models.shop import Shop

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__, url_prefix="/integrations/line", cli_group=None)

# 「連携」 or LINK, alone or followed by anything (an old typed-token message starts the flow too).
LINK_TEXT = re.compile(r"^\s*(LINK|連携)(?:\s.*)?$", re.IGNORECASE | re.DOTALL)
LINK_POSTBACK = "action=link"  # the rich-menu button's postback data
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
        log.warning("LINE webhook refused (bad signature) shop=%s", shop.domain)
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


def _apply(shop: Shop, event: object) -> None:
    user_id = getattr(getattr(event, "source", None), "user_id", None)
    if not user_id:
        return  # group or room events name no user
    if isinstance(event, AccountLinkEvent):
        complete_link(db.session, shop, user_id, str(event.link.result), str(event.link.nonce or ""))
    elif isinstance(event, UnfollowEvent):
        set_opt_out(db.session, shop, user_id, True)
    elif isinstance(event, FollowEvent):
        set_opt_out(db.session, shop, user_id, False)
    elif isinstance(event, PostbackEvent) and event.postback.data == LINK_POSTBACK:
        start_link(db.session, shop, user_id, event.reply_token, "ja")
    elif isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
        text = event.message.text.strip()
        match = LINK_TEXT.match(text)
        if match:
            start_link(
                db.session,
                shop,
                user_id,
                event.reply_token,
                "en" if match.group(1).upper() == "LINK" else "ja",
            )
        elif text.lower() in STOP_WORDS:
            set_opt_out(db.session, shop, user_id, True)
        elif text.lower() in START_WORDS:
            set_opt_out(db.session, shop, user_id, False)
