"""The HTTP inspection routes show what the app did to a shop."""

from __future__ import annotations

import pytest
from flask import Flask

from emulator.inspect_api import create_inspect_blueprint
from tests.emulator.graphql_support import SHOP, Harness


@pytest.fixture
def h() -> Harness:
    h = Harness()
    c = h.shop.add_customer(first_name="Taro", tags=["VIP"])
    h.shop.add_order({"customer": {"id": c["id"]}, "total_price": "1200"})
    h.data(
        """mutation($m: [MetafieldsSetInput!]!) {
             metafieldsSet(metafields: $m) { userErrors { message } } }""",
        {"m": [{"ownerId": c["admin_graphql_api_id"], "key": "rank", "value": "gold"}]},
    )
    h.data(
        'mutation { segmentCreate(name: "VIP", query: "customer_tags CONTAINS \'VIP\'") {'
        " userErrors { message } } }"
    )
    return h


@pytest.fixture
def client(h: Harness):
    app = Flask(__name__)
    app.register_blueprint(create_inspect_blueprint(h.state))
    return app.test_client()


def test_customers_with_metafields_tags_and_derived_totals(client):
    [customer] = client.get(f"/_emulator/shops/{SHOP}/customers").get_json()
    assert customer["tags"] == ["VIP"]
    assert customer["metafields"] == {"rank": {"type": "single_line_text_field", "value": "gold"}}
    assert (customer["orders_count"], customer["amount_spent"]) == (1, "1200")
    assert client.get(f"/_emulator/shops/{SHOP}/customers/1").get_json()["id"] == 1
    assert client.get(f"/_emulator/shops/{SHOP}/customers/9").status_code == 404


def test_segments_with_member_ids(client):
    [segment] = client.get(f"/_emulator/shops/{SHOP}/segments").get_json()
    assert (segment["name"], segment["member_ids"]) == ("VIP", [1])


def test_counters_and_mutation_log(client):
    counters = client.get(f"/_emulator/shops/{SHOP}/counters").get_json()
    assert counters["graphql_calls"] == 2
    assert counters["throttled_count"] == 0
    assert counters["mutation_log"] == [
        {"operation": "metafieldsSet", "sizes": {"metafields": 1, "bytes": 4}}
    ]


def test_orders_and_unknown_shop(client):
    [order] = client.get(f"/_emulator/shops/{SHOP}/orders").get_json()
    assert order["admin_graphql_api_id"] == "gid://shopify/Order/1"
    assert client.get("/_emulator/shops/nope.myshopify.com/orders").status_code == 404
