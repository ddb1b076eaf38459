"""One delivery: verify the HMAC over the raw bytes, check the headers, parse the body once, store it.

No Shopify call and no domain work here: Shopify wants an answer within 5 s, and a 200 promises the delivery
is persisted. Topic, shop and delivery id come from the headers
(https://shopify.dev/docs/apps/build/webhooks/subscribe/https); the body is parsed once, to refuse malformed
JSON and to read the customer it names (redaction finds rows by it). Framework-free: app/webhooks/views.py
calls it straight from WSGI, in front of Flask.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.dispatch import COMPLIANCE_TOPICS, KNOWN_TOPICS
from app.jobs.inbox import Delivery, InboxBusy, record, shop_of
from app.models.inbox import InboxStatus
from app.models.shop import ShopStatus
from app.shopify.payloads.rest import subject_of
from app.shopify.payloads.retention import minimised
from app.shopify.session_token import valid_shop_domain
from app.shopify.signatures import verify

TOPIC = re.compile(r"^[a-z0-9_]{1,30}/[a-z0-9_]{1,30}$")
OPAQUE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces: Shopify sends UUIDs
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}$|^unstable$")
log = logging.getLogger(__name__)


class Store(Protocol):
    """Where deliveries go: the edge's own pool (app/webhooks/edge.py), or a session (SessionStore)."""

    def shop(self, domain: str) -> tuple[int, str] | None: ...

    def write(self, delivery: Delivery) -> bool: ...


class SessionStore:
    """Through a session whose transaction its caller holds (a test's rolled-back one): one commit each."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def shop(self, domain: str) -> tuple[int, str] | None:
        return shop_of(self.session, domain)  # the app context's teardown ends the read

    def write(self, delivery: Delivery) -> bool:
        try:
            created = record(self.session, delivery)
            self.session.commit()
        except SQLAlchemyError:
            self.session.rollback()
            raise
        return created


@dataclass(frozen=True, slots=True)
class Received:
    """The answer and what the log line names. `plain`: topic, shop and delivery id matched strict
    patterns (a UUID for the id, as Shopify sends), so the line holds nothing the log redaction looks for."""

    status: int
    outcome: str
    topic: str
    shop: str
    delivery_id: str
    plain: bool = False


def _triggered_at(value: str | None) -> datetime | None:
    if not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def receive(store: Store, body: bytes, environ: Mapping[str, str], secrets: Iterable[str | None]) -> Received:
    """401 bad HMAC, 400 malformed, 503 database trouble (`shed_db_wait`: no connection in time), else 200.

    `environ` holds the request headers as WSGI names them (HTTP_X_SHOPIFY_TOPIC, ...).
    """
    topic = (environ.get("HTTP_X_SHOPIFY_TOPIC") or "").strip().lower()
    shop_domain = (environ.get("HTTP_X_SHOPIFY_SHOP_DOMAIN") or "").strip().lower()
    delivery_id = (environ.get("HTTP_X_SHOPIFY_WEBHOOK_ID") or "").strip()

    def answer(status: int, outcome: str, checked: bool = True) -> Received:
        plain = checked and UUID.fullmatch(delivery_id) is not None
        return Received(status, outcome, topic, shop_domain, delivery_id, plain)

    if not verify(body, environ.get("HTTP_X_SHOPIFY_HMAC_SHA256"), secrets):
        return answer(401, "bad_hmac", False)
    if not (TOPIC.match(topic) and valid_shop_domain(shop_domain) and OPAQUE_ID.match(delivery_id)):
        return answer(400, "bad_headers", False)
    try:
        text = body.decode("utf-8")
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return answer(400, "malformed_json")
    if not isinstance(parsed, dict):
        return answer(400, "malformed_json")

    known = topic in KNOWN_TOPICS
    try:
        shop = store.shop(shop_domain)
        if topic not in COMPLIANCE_TOPICS and (shop is None or shop[1] != ShopStatus.INSTALLED):
            return answer(200, "dropped_not_installed")
        resource_id, customer_id = subject_of(topic, parsed)
        event_id = (environ.get("HTTP_X_SHOPIFY_EVENT_ID") or "").strip()
        api_version = (environ.get("HTTP_X_SHOPIFY_API_VERSION") or "").strip()
        created = store.write(
            Delivery(
                shop_domain=shop_domain,
                shop_id=shop[0] if shop is not None else None,
                topic=topic,
                delivery_id=delivery_id,
                event_id=event_id if OPAQUE_ID.match(event_id) else None,
                api_version=api_version if API_VERSION.match(api_version) else None,
                triggered_at=_triggered_at(environ.get("HTTP_X_SHOPIFY_TRIGGERED_AT")),
                # A topic we do not handle is never processed: keep its hash, not its (personal) data.
                payload=text if known else minimised("shopify", topic, text),
                resource_id=resource_id,
                customer_id=customer_id,
                status=InboxStatus.PENDING if known else InboxStatus.IGNORED,
            )
        )
    except InboxBusy:
        return answer(503, "shed_db_wait")
    except SQLAlchemyError as exc:
        log.error("webhook store failed: %s", type(exc).__name__)
        # Not persisted, so not acknowledged: Shopify retries a 5xx (8 times over 4 h).
        return answer(503, "store_failed")
    if not created:
        return answer(200, "duplicate")
    return answer(200, "recorded" if known else "ignored")
