"""shopify.app.toml's include_fields keep everything the handlers read: a trimmed body gives the same event.

Shopify sends only the listed fields, a period naming a nested one
(https://shopify.dev/docs/apps/build/webhooks/customize/modify-payloads); the emulator trims deliveries the
same way (`emulator.server.include_only`), and so does this test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.shopify.payloads.rest import customer_from_rest, order_from_rest, refund_from_rest, subject_of
from emulator.server import include_only
from emulator.shop_state import DEFAULT_APP_TOML, AppConfig
from tests.integration.webhooks.support import later, order_body, refund_body

DATA = Path(__file__).parent / "data"
SHOP = "test-shop.myshopify.com"
FIELDS = AppConfig.load(DEFAULT_APP_TOML).include_fields


def _orders() -> list[dict]:
    refunded = order_body(
        11, "20000", refunds=[refund_body(91, 11, "5000"), refund_body(92, 11, "2500", at=later(5))]
    )
    refunded["refunds"][0]["order_adjustments"] = [
        {"kind": "shipping_refund", "amount": "-500.00", "amount_set": {"shop_money": {"amount": "-500.00"}}}
    ]
    refunded["discount_codes"] = [{"code": "TSUNAGU-ABC", "amount": "100", "type": "fixed_amount"}]
    return [
        json.loads((DATA / "orders_create.json").read_text()),
        refunded,
        order_body(12, "12000", customer_id=None, pos_location_id=655441491),
        order_body(13, "3000", cancelled=True, test=True),
    ]


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated"])
@pytest.mark.parametrize("index", range(4))
def test_a_trimmed_order_gives_the_same_event_and_subject(topic, index):
    body = _orders()[index]
    trimmed = include_only(body, FIELDS[topic])
    assert len(json.dumps(trimmed)) < len(json.dumps(body))
    assert order_from_rest(trimmed, SHOP) == order_from_rest(body, SHOP)
    assert subject_of(topic, trimmed) == subject_of(topic, body)


def test_a_trimmed_refund_gives_the_same_event():
    body = refund_body(91, 11, "5000")
    body["order_adjustments"] = [{"kind": "shipping_refund", "amount": "-500.00"}]
    trimmed = include_only(body, FIELDS["refunds/create"])
    assert "restock" not in trimmed
    assert refund_from_rest(trimmed, SHOP) == refund_from_rest(body, SHOP)
    assert subject_of("refunds/create", trimmed) == subject_of("refunds/create", body)


@pytest.mark.parametrize("topic", ["customers/create", "customers/update", "customers/delete"])
def test_a_trimmed_customer_gives_the_same_event(topic):
    body = {
        "id": 7001,
        "email": "taro@example.jp",
        "phone": "+819012345678",
        "first_name": "Taro",
        "addresses": [{"address1": "1-1"}],
        "updated_at": "2026-11-01T10:00:00+09:00",
    }
    trimmed = include_only(body, FIELDS[topic])
    assert "addresses" not in trimmed and "first_name" not in trimmed
    kind = topic.split("/")[1]
    assert customer_from_rest(trimmed, kind, SHOP) == customer_from_rest(body, kind, SHOP)
    assert subject_of(topic, trimmed) == subject_of(topic, body)


def test_nested_fields_keep_only_their_leaves():
    body = {"a": 1, "b": {"c": 2, "d": 3}, "e": [{"f": 4, "g": 5}], "h": None}
    assert include_only(body, ["a", "b.c", "e.f", "h.x"]) == {
        "a": 1,
        "b": {"c": 2},
        "e": [{"f": 4}],
        "h": None,
    }
