"""REST webhook bodies -> normalised domain events (events.py's contract)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain.events import CustomerRef
from app.shopify.payloads.rest import (
    NormaliseError,
    customer_from_rest,
    legacy_id,
    merge_from_rest,
    order_from_rest,
    refund_from_rest,
    subject_of,
)
from tests.integration.webhooks.support import later, order_body, refund_body

DATA = Path(__file__).parent / "data"
SHOP = "test-shop.myshopify.com"


def test_shopify_sample_order():
    body = json.loads((DATA / "orders_create.json").read_text())
    event = order_from_rest(body, SHOP)
    assert event.source_id == "820982911946154508"
    assert event.customer_ref == CustomerRef(shopify_customer_id="115310627314723954")
    assert event.currency == "USD"
    assert event.gross_amount == Decimal("369.97")  # current_subtotal_price: goods, no shipping
    assert event.test is True and event.cancelled is True  # the sample is a voided test order
    assert event.source_name == "web" and event.location_id is None
    assert event.source_updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert event.items_count == sum(item["quantity"] for item in body["line_items"])


def test_pos_walk_in_has_location_and_no_customer():
    event = order_from_rest(order_body(1, "12000", customer_id=None, pos_location_id=655441491), SHOP)
    assert event.customer_ref is None
    assert event.location_id == "655441491" and event.source_name == "pos"
    assert event.app_id == "129785"


def test_gross_adds_back_refunded_lines_that_current_subtotal_removed():
    refund = refund_body(31, 5, "4000")
    event = order_from_rest(order_body(5, "25000", refunds=[refund], updated_at=later(5)), SHOP)
    assert event.gross_amount == Decimal("25000")
    assert [(r.source_id, r.amount) for r in event.refunds] == [("31", Decimal("4000"))]
    assert event.net_amount == Decimal("21000")


def test_shop_money_wins_over_presentment_and_plain_fields():
    body = order_body(6, "1000")
    body["current_subtotal_price"] = "9.99"  # presentment-looking plain value
    body["current_subtotal_price_set"]["presentment_money"] = {"amount": "9.99", "currency_code": "USD"}
    event = order_from_rest(body, SHOP)
    assert event.gross_amount == Decimal("1000") and event.currency == "JPY"


def test_cancelled_order_is_worth_nothing():
    event = order_from_rest(order_body(7, "5000", cancelled=True), SHOP)
    assert event.cancelled and event.net_amount == 0


def test_refund_without_lines_uses_money_returned_minus_shipping():
    refund = {
        "id": 90,
        "order_id": 8,
        "created_at": "2026-11-02T10:00:00+09:00",
        "refund_line_items": [],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": "1500"},
            {"kind": "refund", "status": "failure", "amount": "9999"},
        ],
        "order_adjustments": [{"kind": "shipping_refund", "amount": "-500"}],
    }
    event = refund_from_rest(refund, SHOP)
    assert event.amount == Decimal("1000") and event.order_source_id == "8"
    assert event.processed_at.utcoffset().total_seconds() == 9 * 3600


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("updated_at"), "updated_at"),
        (lambda b: b.update(id="abc"), "order.id"),
        (lambda b: b.update(updated_at="2026-11-01T10:00:00"), "offset"),
        (lambda b: b.update(current_subtotal_price_set=None, current_subtotal_price="x"), "amount"),
    ],
)
def test_malformed_orders_raise_normalise_error_without_quoting_values(mutate, message):
    body = order_body(9, "1000")
    mutate(body)
    with pytest.raises(NormaliseError, match=message) as info:
        order_from_rest(body, SHOP)
    assert "buyer@example.com" not in str(info.value)


def test_ids_from_rest_numbers_and_graphql_gids_agree():
    assert legacy_id(123) == legacy_id("123") == legacy_id("gid://shopify/Order/123") == "123"
    assert legacy_id(True) is None and legacy_id("gid://shopify/Order/x") is None


def test_customer_and_merge_events():
    event = customer_from_rest(
        {"id": 42, "email": "a@example.com", "phone": None, "updated_at": "2026-11-01T00:00:00Z"},
        "update",
        SHOP,
    )
    assert (event.shopify_customer_id, event.email, event.phone) == ("42", "a@example.com", None)
    merge = merge_from_rest(
        {
            "admin_graphql_api_customer_kept_id": "gid://shopify/Customer/1",
            "admin_graphql_api_customer_deleted_id": "gid://shopify/Customer/2",
            "admin_graphql_api_job_id": "gid://shopify/Job/77",
            "status": "completed",
        },
        SHOP,
        None,
    )
    assert (merge.surviving_id, merge.merged_ids, merge.source_id) == ("1", ("2",), "job:77")


def test_subject_of_names_the_resource_and_customer():
    assert subject_of("orders/paid", order_body(3, customer_id=55)) == ("3", "55")
    assert subject_of("refunds/create", refund_body(4, 3, "10")) == ("3", None)
    redact = json.loads((DATA / "customers_redact.json").read_text())
    assert subject_of("customers/redact", redact) == ("191167", "191167")
    assert subject_of("products/update", {"id": 1}) == (None, None)
