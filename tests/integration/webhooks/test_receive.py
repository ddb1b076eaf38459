"""POST /webhooks: every response code of issue 10, and what lands in the inbox."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from app.models import InboxEvent, Shop
from emulator.webhook_sender import sign
from tests.integration.webhooks.support import PREVIOUS_SECRET, SHOP, headers, order_body, post

ORDER = json.dumps(order_body(1001, "12000")).encode()
REDACT = json.dumps(
    {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 7001}, "orders_to_redact": []}
).encode()


def _rows(session) -> list[InboxEvent]:
    return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def _signed(topic: str, body: bytes, **kw) -> tuple[bytes, dict]:
    return body, headers(topic, body, **kw)


def _unsigned(topic: str, body: bytes, **kw) -> tuple[bytes, dict]:
    h = headers(topic, body, **kw)
    del h["X-Shopify-Hmac-Sha256"]
    return body, h


def _forged(topic: str, body: bytes, **kw) -> tuple[bytes, dict]:
    h = headers(topic, body, **kw)
    h["X-Shopify-Hmac-Sha256"] = sign(body, "not-our-secret")
    return body, h


def _tampered(topic: str, body: bytes, **kw) -> tuple[bytes, dict]:
    return body.replace(b"12000", b"99000"), headers(topic, body, **kw)


CASES = [
    # (name, request builder, shop status, expected status, expected rows, expected row status)
    ("valid order", lambda: _signed("orders/create", ORDER), "installed", 200, 1, "pending"),
    (
        "previous secret",
        lambda: _signed("orders/create", ORDER, secret=PREVIOUS_SECRET),
        "installed",
        200,
        1,
        "pending",
    ),
    ("missing hmac", lambda: _unsigned("orders/create", ORDER), "installed", 401, 0, None),
    ("forged hmac", lambda: _forged("orders/create", ORDER), "installed", 401, 0, None),
    ("body changed after signing", lambda: _tampered("orders/create", ORDER), "installed", 401, 0, None),
    ("compliance, missing hmac", lambda: _unsigned("customers/redact", REDACT), "installed", 401, 0, None),
    ("compliance, forged hmac", lambda: _forged("shop/redact", REDACT), "uninstalled", 401, 0, None),
    ("malformed json", lambda: _signed("orders/create", b'{"id": 1,'), "installed", 400, 0, None),
    ("json array, not object", lambda: _signed("orders/create", b"[1, 2]"), "installed", 400, 0, None),
    ("not utf-8", lambda: _signed("orders/create", b'{"a": "\xff"}'), "installed", 400, 0, None),
    (
        "bad shop domain",
        lambda: _signed("orders/create", ORDER, shop="evil.example.com"),
        "installed",
        400,
        0,
        None,
    ),
    ("unknown topic", lambda: _signed("products/update", b'{"id": 5}'), "installed", 200, 1, "ignored"),
    ("shop not installed", lambda: _signed("orders/create", ORDER), "uninstalled", 200, 0, None),
    ("shop unknown", lambda: _signed("orders/create", ORDER), None, 200, 0, None),
    (
        "compliance, shop uninstalled",
        lambda: _signed("shop/redact", REDACT),
        "uninstalled",
        200,
        1,
        "pending",
    ),
    ("compliance, shop unknown", lambda: _signed("customers/redact", REDACT), None, 200, 1, "pending"),
]


@pytest.mark.parametrize(
    ("build", "shop_status", "status", "rows", "row_status"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_response_matrix(client, session, build, shop_status, status, rows, row_status):
    if shop_status:
        session.add(Shop(domain=SHOP, status=shop_status))
        session.flush()
    body, hdrs = build()
    response = client.post("/webhooks", data=body, headers=hdrs)
    assert response.status_code == status
    found = _rows(session)
    assert len(found) == rows
    if rows:
        assert found[0].status == row_status


def test_body_over_two_megabytes_is_413(client, shop, session):
    body = json.dumps({"id": 1, "note": "x" * (2 * 1024 * 1024)}).encode()
    response = client.post("/webhooks", data=body, headers=headers("orders/create", body))
    assert response.status_code == 413
    assert _rows(session) == []


def test_duplicate_delivery_is_200_and_one_row(client, shop, session):
    first = post(client, "orders/create", order_body(1, "100"), webhook_id="delivery-1")
    again = post(client, "orders/create", order_body(1, "100"), webhook_id="delivery-1")
    assert first.status_code == again.status_code == 200
    assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1


def test_recorded_row_keeps_headers_and_subject(client, shop, session):
    body = json.dumps(order_body(1234, "5000", customer_id=99)).encode()
    hdrs = headers("orders/paid", body, webhook_id="wh-1")
    assert client.post("/webhooks", data=body, headers=hdrs).status_code == 200
    (row,) = _rows(session)
    assert (row.topic, row.shop_domain, row.delivery_id, row.event_id) == (
        "orders/paid",
        SHOP,
        "wh-1",
        hdrs["X-Shopify-Event-Id"],
    )
    assert (row.resource_id, row.customer_id, row.shop_id, row.api_version) == (
        "1234",
        "99",
        shop.id,
        "2026-07",
    )
    assert row.payload == body.decode()  # the exact body, for replays
    assert row.triggered_at is not None


def test_log_lines_name_the_delivery_but_never_the_body(client, shop, caplog):
    caplog.set_level(logging.INFO)
    post(client, "orders/create", order_body(1, "100"), webhook_id="wh-log")
    post(client, "orders/create", b'{"email": "leak@example.com", ', webhook_id="wh-bad")
    text = caplog.text
    assert "outcome=recorded" in text and "outcome=malformed_json" in text and "wh-log" in text
    assert "buyer@example.com" not in text and "leak@example.com" not in text
    assert "+819012345678" not in text


def test_database_down_answers_5xx_not_200(tmp_path, monkeypatch):
    from app import create_app
    from app.config import load_settings
    from tests.conftest import TEST_ENV

    missing = tmp_path / "no-such-dir" / "db.sqlite3"  # SQLite cannot open it: every query fails
    app = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=f"sqlite:///{missing}")), {"TESTING": True})
    response = post(app.test_client(), "orders/create", order_body(1, "100"))
    assert response.status_code == 503
