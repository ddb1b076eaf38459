"""POST /webhooks: verify the HMAC over the raw bytes, record the delivery in the inbox, answer.

No Shopify call and no domain work here: Shopify wants an answer within 5 s, and a 200 promises the delivery
is persisted. Log lines carry topic, shop, delivery id and outcome, never the body.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime

from flask import Blueprint, current_app, request
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from app.dispatch import COMPLIANCE_TOPICS, KNOWN_TOPICS
from app.extensions import db
from app.jobs.inbox import Delivery, record
from app.models.inbox import InboxStatus
from app.models.shop import Shop, ShopStatus
from app.shopify.payloads.rest import subject_of
from app.shopify.payloads.retention import minimised
from app.shopify.session_token import valid_shop_domain
from app.webhooks.verify import verify

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)

TOPIC = re.compile(r"^[a-z0-9_]{1,30}/[a-z0-9_]{1,30}$")
OPAQUE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces: Shopify sends UUIDs
API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}$|^unstable$")
SHOP_BY_DOMAIN = select(Shop.__table__.c.id, Shop.__table__.c.status).where(
    Shop.__table__.c.domain == bindparam("domain")
)


def _safe(value: str | None, limit: int = 64) -> str:
    """A header value fit for a log line: printable ASCII only, bounded (headers are attacker-controlled)."""
    if not value:
        return "-"
    return re.sub(r"[^\x21-\x7e]", "?", value[:limit])


def _answer(status: int, topic: str | None, shop: str | None, delivery: str | None, outcome: str):
    log.info(
        "webhook topic=%s shop=%s delivery=%s outcome=%s status=%d",
        _safe(topic),
        _safe(shop, 255),
        _safe(delivery, 128),
        outcome,
        status,
    )
    return ("", status) if status < 400 else ({"error": outcome}, status)


def _triggered_at(value: str | None) -> datetime | None:
    if not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@bp.post("/webhooks")
def receive():
    """Verify, record, answer: 401 bad HMAC, 400 malformed, 413 too large, 503 database down, else 200."""
    body = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: werkzeug raises 413 before we read on
    topic = (request.headers.get("X-Shopify-Topic") or "").strip().lower()
    shop_domain = (request.headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    delivery_id = (request.headers.get("X-Shopify-Webhook-Id") or "").strip()
    settings = current_app.config["SETTINGS"]
    if not verify(
        body,
        request.headers.get("X-Shopify-Hmac-Sha256"),
        (settings.api_secret, settings.api_secret_previous),
    ):
        return _answer(401, topic, shop_domain, delivery_id, "bad_hmac")
    if not (TOPIC.match(topic) and valid_shop_domain(shop_domain) and OPAQUE_ID.match(delivery_id)):
        return _answer(400, topic, shop_domain, delivery_id, "bad_headers")
    try:
        text = body.decode("utf-8")
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _answer(400, topic, shop_domain, delivery_id, "malformed_json")
    if not isinstance(parsed, dict):
        return _answer(400, topic, shop_domain, delivery_id, "malformed_json")

    try:
        # Two columns, not the Shop entity: this runs for every delivery (B1).
        shop = db.session.execute(SHOP_BY_DOMAIN, {"domain": shop_domain}).one_or_none()
        compliance = topic in COMPLIANCE_TOPICS
        if not compliance and (shop is None or shop.status != ShopStatus.INSTALLED):
            db.session.rollback()
            return _answer(200, topic, shop_domain, delivery_id, "dropped_not_installed")
        resource_id, customer_id = subject_of(topic, parsed)
        event_id = (request.headers.get("X-Shopify-Event-Id") or "").strip()
        api_version = (request.headers.get("X-Shopify-API-Version") or "").strip()
        created = record(
            db.session,
            Delivery(
                shop_domain=shop_domain,
                shop_id=shop.id if shop is not None else None,
                topic=topic,
                delivery_id=delivery_id,
                event_id=event_id if OPAQUE_ID.match(event_id) else None,
                api_version=api_version if API_VERSION.match(api_version) else None,
                triggered_at=_triggered_at(request.headers.get("X-Shopify-Triggered-At")),
                # A topic we do not handle is never processed: keep its hash, not its (personal) data.
                payload=text if topic in KNOWN_TOPICS else minimised("shopify", topic, text),
                resource_id=resource_id,
                customer_id=customer_id,
                status=InboxStatus.PENDING if topic in KNOWN_TOPICS else InboxStatus.IGNORED,
            ),
        )
        db.session.commit()
    except SQLAlchemyError as exc:
        # Not persisted, so not acknowledged: Shopify retries a 5xx (8 times over 4 h).
        db.session.rollback()
        log.error("webhook store failed: %s", type(exc).__name__)
        return _answer(503, topic, shop_domain, delivery_id, "store_failed")
    if not created:
        return _answer(200, topic, shop_domain, delivery_id, "duplicate")
    return _answer(200, topic, shop_domain, delivery_id, "recorded" if topic in KNOWN_TOPICS else "ignored")
