"""Smaregi's HTTP surface: the webhook receiver, the authorisation callback and the settings page.

POST /integrations/smaregi/webhooks: verify the shared secret, record into the inbox, answer 200.

Like the Shopify path: no Smaregi API call and no domain work in the request; the worker fetches the records.
Smaregi webhooks carry ids only (`transactionHeadIds` / `customerIds`), the contract in `Smaregi-Contract-Id`,
the event in `Smaregi-Event` and a per-event `Smaregi-Event-Id` (our dedupe key). The shared secret is a
custom header set on the webhook in the Smaregi developer console.
"""

from __future__ import annotations

import json
import logging
import uuid

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.integrations.smaregi.connection import by_contract, webhook_secret_ok
from app.integrations.smaregi.settings_page import callback
from app.jobs import inbox
from app.models.inbox import InboxStatus
from app.models.shop import Shop

log = logging.getLogger(__name__)
bp = Blueprint("smaregi", __name__, url_prefix="/integrations/smaregi")

SECRET_HEADER = "X-Tsunagu-Webhook-Secret"  # noqa: S105 - a header name, not a secret
bp.add_url_rule("/oauth/callback", "oauth_callback", callback)
EVENTS = {"pos:transactions": "transactionHeadIds", "pos:customers": "customerIds"}


@bp.post("/webhooks")
def webhook():
    """Verify, record, 200; 401 for an unknown contract or a wrong secret, 400 for a malformed body."""
    contract_id = request.headers.get("Smaregi-Contract-Id", "")
    connection = by_contract(db.session, contract_id)
    # A header, never the URL: access logs print request lines, and a secret must not reach a log.
    presented = request.headers.get(SECRET_HEADER, "")
    if connection is None or not presented or not webhook_secret_ok(connection, presented):
        return jsonify(error="unauthorized"), 401
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except ValueError:
        log.info("smaregi webhook for contract %s: body is not JSON", contract_id)
        return jsonify(error="malformed body"), 400
    event = request.headers.get("Smaregi-Event") or (body.get("event") if isinstance(body, dict) else None)
    if not isinstance(body, dict) or body.get("contractId") != contract_id or not isinstance(event, str):
        return jsonify(error="malformed body"), 400
    shop = db.session.get(Shop, connection.shop_id)
    if shop is None or not shop.is_installed:
        return jsonify(status="dropped"), 200  # nothing to credit for a shop that left
    ids = body.get(EVENTS.get(event, ""), [])
    # Smaregi-Event-Id repeats across its retries. Without one, never dedupe: two edits of one receipt have
    # identical id-only bodies, and processing a retry twice is harmless (records are fetched and idempotent).
    delivery_id = request.headers.get("Smaregi-Event-Id") or f"no-event-id:{uuid.uuid4()}"
    delivery = inbox.Delivery(
        source="smaregi",
        shop_domain=shop.domain,
        shop_id=shop.id,
        topic=event[:64],
        delivery_id=delivery_id[:128],
        event_id=delivery_id[:128],
        payload=raw.decode("utf-8", errors="replace"),
        resource_id=str(ids[0])[:64] if isinstance(ids, list) and len(ids) == 1 else None,
        # Sales import switched off on the settings page: kept for the record, never credited.
        status=InboxStatus.PENDING
        if event in EVENTS and (event != "pos:transactions" or connection.import_sales)
        else InboxStatus.IGNORED,
    )
    try:
        inbox.record(db.session, delivery)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.error("smaregi webhook for contract %s not persisted", contract_id)
        return jsonify(error="unavailable"), 503  # Smaregi retries; never 200 for what was not stored
    return jsonify(status="ok"), 200
