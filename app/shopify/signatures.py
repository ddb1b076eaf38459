"""Shopify's request signatures: base64 HMAC-SHA256 of the raw body, current or previous app secret.

Webhooks (https://shopify.dev/docs/apps/build/webhooks/subscribe/https) and Shopify Flow action requests
(https://shopify.dev/docs/apps/build/flow/actions/endpoints#verifying-requests) are signed the same way, in
the `X-Shopify-Hmac-Sha256` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def signature(body: bytes, secret: str) -> bytes:
    """The X-Shopify-Hmac-Sha256 value Shopify would send for these bytes."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


def verify(body: bytes, header: str | None, secrets: Iterable[str | None]) -> bool:
    """Constant-time check of the header against every configured secret (rotation: up to 1 h of overlap).

    Why not shopifyapp's verify_webhook_req: it hashes `body.encode("utf-8")` of a str, so the caller must
    decode first (non-UTF-8 bytes would not be hashed as sent), and it answers 400 for a missing header where
    Shopify's review expects 401. This hashes the exact bytes received, before any parsing.
    """
    if not header:
        return False
    try:
        received = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    valid = False
    for secret in secrets:
        if secret:
            # No early exit: every secret is checked, so timing says nothing about which one matched.
            valid |= hmac.compare_digest(received, signature(body, secret))
    return valid
