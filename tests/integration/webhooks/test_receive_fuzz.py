"""Arbitrary bodies and headers at /webhooks never get a 5xx while the database is up."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.webhook_sender import sign
from tests.integration.webhooks.support import SECRET, SHOP

# Header values as HTTP carries them: latin-1 without control characters (a client cannot send newlines).
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, blacklist_categories=["Cc"]), max_size=140
)
TOPICS = st.one_of(
    st.sampled_from(
        ["orders/create", "refunds/create", "customers/redact", "shop/redact", "customers/merge", "x/y", ""]
    ),
    HEADER_TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["id", "customer", "order_id", "updated_at", "refunds", "line_items", "current"]),
        JSON_VALUES,
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=BODIES,
    topic=TOPICS,
    shop_domain=st.one_of(st.just(SHOP), HEADER_TEXT),
    webhook_id=st.one_of(st.uuids().map(str), HEADER_TEXT),
    signed=st.sampled_from(["valid", "invalid", "missing"]),
    extra=st.dictionaries(
        st.sampled_from(["X-Shopify-Event-Id", "X-Shopify-API-Version", "X-Shopify-Triggered-At"]),
        HEADER_TEXT,
    ),
)
def test_arbitrary_requests_never_get_a_server_error(
    client, shop, body, topic, shop_domain, webhook_id, signed, extra
):
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Webhook-Id": webhook_id,
    }
    headers.update(extra)
    if signed == "valid":
        headers["X-Shopify-Hmac-Sha256"] = sign(body, SECRET)
    elif signed == "invalid":
        headers["X-Shopify-Hmac-Sha256"] = sign(body + b"x", SECRET)
    response = client.post("/webhooks", data=body, headers=headers)
    assert response.status_code < 500
    if signed != "valid":
        assert response.status_code == 401
