"""A processed body keeps what replay needs (the same domain event) and none of a person's details."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.shopify.payloads.rest import customer_from_rest, order_from_rest, refund_from_rest
from app.shopify.payloads.retention import minimised
from tests.integration.webhooks.support import later, order_body, refund_body

DATA = Path(__file__).parent / "data"
PERSONAL = (
    "jon@example.com",
    "john@example.com",
    "buyer@example.com",
    "+819012345678",
    "555-555-SHIP",
    "123 Shipping Street",
    "Steve",
    "Norman",
)


def reduce(topic: str, body: dict) -> tuple[str, dict]:
    raw = json.dumps(body)
    return raw, json.loads(minimised("shopify", topic, raw))


def test_shopifys_sample_order_replays_to_the_same_event_without_personal_data():
    body = json.loads((DATA / "orders_create.json").read_text())
    raw, kept = reduce("orders/create", body)
    assert order_from_rest(kept, "s.myshopify.com") == order_from_rest(body, "s.myshopify.com")
    text = json.dumps(kept)
    assert not [value for value in PERSONAL if value in text]
    assert "billing_address" not in kept and "shipping_address" not in kept and "email" not in kept
    assert kept["customer"] == {
        "id": body["customer"]["id"],
        "admin_graphql_api_id": body["customer"]["admin_graphql_api_id"],
    }
    assert kept["_retained"]["sha256"] == hashlib.sha256(raw.encode()).hexdigest()


@pytest.mark.parametrize("cancelled", [False, True])
def test_an_order_with_refunds_and_a_pos_location_replays_to_the_same_event(cancelled):
    refunds = [refund_body(31, 801, "2000", at=later(5)), refund_body(32, 801, "1000", at=later(6))]
    body = order_body(
        801, "12000", refunds=refunds, pos_location_id=55, cancelled=cancelled, updated_at=later(9)
    )
    body["discount_codes"] = [{"code": "TSUNAGU-AB12", "amount": "500", "type": "fixed_amount"}]
    _, kept = reduce("orders/updated", body)
    assert order_from_rest(kept, "s.myshopify.com") == order_from_rest(body, "s.myshopify.com")
    assert not [value for value in PERSONAL if value in json.dumps(kept)]


def test_a_refund_replays_to_the_same_event():
    body = refund_body(31, 801, "2000") | {"note": "customer called from 090-1234-5678", "user_id": 9}
    _, kept = reduce("refunds/create", body)
    assert refund_from_rest(kept, "s.myshopify.com") == refund_from_rest(body, "s.myshopify.com")
    assert "note" not in kept and "090-1234-5678" not in json.dumps(kept)


def test_a_customer_body_keeps_its_id_and_time_only():
    body = {
        "id": 7001,
        "email": "john@example.com",
        "phone": "+819012345678",
        "first_name": "John",
        "last_name": "Norman",
        "updated_at": "2026-11-01T10:00:00+09:00",
        "addresses": [{"address1": "123 Shipping Street", "phone": "555-555-SHIP"}],
        "default_address": {"address1": "123 Shipping Street"},
    }
    _, kept = reduce("customers/update", body)
    event = customer_from_rest(kept, "update", "s.myshopify.com")
    assert (event.shopify_customer_id, event.updated_at) == (
        "7001",
        customer_from_rest(body, "update", "s").updated_at,
    )
    assert set(kept) == {"id", "updated_at", "_retained"}


def test_the_shop_object_of_an_uninstall_keeps_its_ids_only():
    body = {
        "id": 1,
        "myshopify_domain": "s.myshopify.com",
        "shop_owner": "John Norman",
        "email": "john@example.com",
    }
    _, kept = reduce("app/uninstalled", body)
    assert set(kept) == {"id", "myshopify_domain", "_retained"}


def test_unknown_topics_and_non_objects_keep_only_the_hash():
    assert set(reduce("products/update", {"title": "x", "vendor": "John"})[1]) == {"_retained"}
    assert set(json.loads(minimised("shopify", "orders/create", "[1, 2]"))) == {"_retained"}


def test_reducing_twice_keeps_the_hash_of_the_body_as_received():
    raw, kept = reduce("orders/create", order_body(801))
    again = json.loads(minimised("shopify", "orders/create", json.dumps(kept)))
    assert again == kept and again["_retained"]["sha256"] == hashlib.sha256(raw.encode()).hexdigest()


def test_rows_the_app_wrote_itself_are_kept_as_they_are():
    node = json.dumps({"id": "gid://shopify/Order/1", "customer": {"id": "gid://shopify/Customer/2"}})
    assert minimised("reconcile", "orders/reconciled", node) == node
