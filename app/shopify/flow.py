"""Shopify Flow: triggers sent with flowTriggerReceive, and the signature on Flow's action requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from app.shopify.pacing import CostPacer, paced_execute


def send_trigger(client: Any, pacer: CostPacer, handle: str, payload: dict[str, Any]) -> None:
    """Start the shop's workflows that begin with trigger `handle`; raises a ShopifyError when refused.

    The payload's keys are the trigger extension's field keys, its customer reference as `customer_id`
    (https://shopify.dev/docs/apps/build/flow/triggers/reference). `body` is deprecated in 2026-07: the
    document sends `handle` and `payload` only.
    """
    paced_execute(client, pacer, "flow_trigger_receive", {"handle": handle, "payload": payload})


def action_signature(body: bytes, secret: str) -> str:
    """The x-shopify-hmac-sha256 value Flow sends: base64 HMAC-SHA256 of the raw body with the client secret
    (https://shopify.dev/docs/apps/build/flow/actions/endpoints#verifying-requests)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify_action(body: bytes, header: str | None, secrets: Iterable[str | None]) -> bool:
    """Constant-time check of the header against the current and the previous client secret (rotation)."""
    if not header:
        return False
    try:
        received = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    valid = False
    for secret in secrets:
        if secret:  # every secret is checked: timing says nothing about which one matched
            valid |= hmac.compare_digest(received, action_signature(body, secret).encode("ascii"))
    return valid
