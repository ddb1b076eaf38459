"""Webhook HMAC: base64 HMAC-SHA256 of the exact bytes, current or previous secret, constant time."""

import base64
import hashlib
import hmac

import pytest

from app.shopify.signatures import signature, verify

BODY = '{"id": 1, "note": "こんにちは"}'.encode()


def stdlib_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_signature_matches_an_independent_stdlib_computation():
    assert signature(BODY, "s3cret").decode() == stdlib_signature(BODY, "s3cret")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (stdlib_signature(BODY, "current"), True),
        (stdlib_signature(BODY, "previous"), True),  # rotation window
        (stdlib_signature(BODY, "other"), False),
        (stdlib_signature(BODY + b" ", "current"), False),  # one byte more
        ("", False),
        (None, False),
        ("not base64 at all ✓", False),  # non-ASCII header value
    ],
)
def test_verify_accepts_current_and_previous_secret_only(header, expected):
    assert verify(BODY, header, ("current", "previous")) is expected


def test_non_utf8_bytes_are_hashed_as_sent():
    raw = b'{"a": "\xff\xfe"}'
    assert verify(raw, stdlib_signature(raw, "current"), ("current", None))


def test_no_previous_secret_configured():
    assert not verify(BODY, stdlib_signature(BODY, "previous"), ("current", None))
