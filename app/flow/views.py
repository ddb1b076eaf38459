"""POST /flow/actions/<handle>: the runtime_url of the app's Flow actions (extensions/flow-*).

Flow signs each request: `x-shopify-hmac-sha256` is the base64 HMAC-SHA256 of the raw body with the app's
client secret (https://shopify.dev/docs/apps/build/flow/actions/endpoints#verifying-requests); an unsigned or
wrongly signed request is answered 401 before the body is read. Answers follow Flow's status handling
(https://shopify.dev/docs/apps/flow/actions): 200 is success; any 4xx but 429 fails the run without a retry
(unknown shop or customer, bad properties: a retry cannot help); 5xx is retried for up to 24 hours (the
database was unavailable). The docs define no error body: ours is a short code for the app's own logs.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from app.extensions import db
from app.flow.actions import ActionRefused, apply_action
from app.models.types import utcnow
from app.shopify.signatures import verify

log = logging.getLogger(__name__)
bp = Blueprint("flow", __name__, url_prefix="/flow")
MAX_BODY = 64 * 1024


@bp.post("/actions/<handle>")
def action(handle: str) -> tuple[Response, int]:
    settings = current_app.config["SETTINGS"]
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error="too_large"), 413
    raw = request.get_data(cache=False)
    secrets = (settings.api_secret, settings.api_secret_previous)
    if not verify(raw, request.headers.get("X-Shopify-Hmac-Sha256"), secrets):
        log.warning("flow action refused: bad or missing HMAC")
        return jsonify(error="unauthorized"), 401
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    try:
        outcome = apply_action(db.session, handle, body, utcnow())
    except ActionRefused as exc:
        db.session.rollback()
        log.warning("flow action %s refused: %s", handle[:32], exc.code)
        return jsonify(error=exc.code), exc.status
    db.session.commit()
    if outcome == "repeated":
        log.info("flow action %s: run already applied", handle[:32])
    return jsonify(status=outcome), 200
