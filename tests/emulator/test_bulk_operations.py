"""Bulk query operations: Shopify's JSONL layout, lifecycle, webhook and download."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from emulator.inspect_api import create_inspect_blueprint
from tests.emulator.graphql_support import SHOP, Harness

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status url } userErrors { field message code } } }"""
BACKFILL = """{
  customers { edges { node { id firstName
    orders { edges { node { id name currentTotalPriceSet { shopMoney { amount } } } } }
  } } }
}"""


@pytest.fixture
def h() -> Harness:
    h = Harness()
    a = h.shop.add_customer(first_name="A")
    h.shop.add_customer(first_name="B")
    c = h.shop.add_customer(first_name="C")
    h.shop.add_order({"customer": {"id": a["id"]}, "total_price": "100"})
    h.shop.add_order({"customer": {"id": c["id"]}, "total_price": "200"})
    h.shop.add_order({"customer": {"id": a["id"]}, "total_price": "300"})
    return h


def run(h: Harness, query: str) -> dict:
    return h.data(RUN, {"q": query})["bulkOperationRunQuery"]


def lines(h: Harness, op_gid: str) -> list[dict]:
    bid = int(op_gid.rsplit("/", 1)[1])
    return [json.loads(line) for line in h.shop.bulk_results[bid].splitlines()]


def test_jsonl_has_one_line_per_node_and_parent_ids_for_nested_connections(h: Harness):
    result = run(h, BACKFILL)
    assert result["userErrors"] == []
    assert result["bulkOperation"]["status"] == "CREATED"
    rows = lines(h, result["bulkOperation"]["id"])
    assert rows == [
        {"id": "gid://shopify/Customer/1", "firstName": "A"},
        {
            "id": "gid://shopify/Order/1",
            "name": "#1001",
            "currentTotalPriceSet": {"shopMoney": {"amount": "100.0"}},
            "__parentId": "gid://shopify/Customer/1",
        },
        {
            "id": "gid://shopify/Order/3",
            "name": "#1003",
            "currentTotalPriceSet": {"shopMoney": {"amount": "300.0"}},
            "__parentId": "gid://shopify/Customer/1",
        },
        {"id": "gid://shopify/Customer/2", "firstName": "B"},
        {"id": "gid://shopify/Customer/3", "firstName": "C"},
        {
            "id": "gid://shopify/Order/2",
            "name": "#1002",
            "currentTotalPriceSet": {"shopMoney": {"amount": "200.0"}},
            "__parentId": "gid://shopify/Customer/3",
        },
    ]


def test_completed_operation_is_readable_and_webhook_announces_it(h: Harness):
    op_id = run(h, BACKFILL)["bulkOperation"]["id"]
    op = h.data(
        "query($id: ID!) { bulkOperation(id: $id) { status objectCount rootObjectCount url errorCode } }",
        {"id": op_id},
    )["bulkOperation"]
    assert op["status"] == "COMPLETED"
    assert (op["objectCount"], op["rootObjectCount"]) == ("6", "3")
    assert op["url"] == f"https://{SHOP}/_emulator/bulk/1.jsonl"
    current = h.data("{ currentBulkOperation { id status } }")["currentBulkOperation"]
    assert current == {"id": op_id, "status": "COMPLETED"}
    [(shop, topic, payload)] = h.events
    assert (shop, topic) == (SHOP, "bulk_operations/finish")
    assert payload["admin_graphql_api_id"] == op_id
    assert (payload["status"], payload["type"], payload["error_code"]) == ("completed", "query", None)


def test_result_is_downloadable_from_the_url_through_the_shop_host(h: Harness):
    op_id = run(h, BACKFILL)["bulkOperation"]["id"]
    app = Flask(__name__)
    app.register_blueprint(create_inspect_blueprint(h.state))
    resp = app.test_client().get("/_emulator/bulk/1.jsonl", headers={"Host": SHOP})
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == h.shop.bulk_results[int(op_id.rsplit("/", 1)[1])]
    assert (
        app.test_client().get("/_emulator/bulk/1.jsonl", headers={"Host": "x.myshopify.com"}).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ shop { name } }", "at least one connection"),
        ("{ customers { edges { node { nope } } } }", "Cannot query field 'nope'"),
        (
            "{ customers { edges { node { email orders { edges { node { id } } } } } } }",
            "must select the 'id' field",
        ),
        (
            "{ customers { edges { node { orders { edges { node {"
            " lineItems { edges { node { id } } } } } } } } } }",
            "nesting depth greater than 2",
        ),
    ],
)
def test_invalid_bulk_queries_are_user_errors(h: Harness, query: str, message: str):
    result = run(h, query)
    assert result["bulkOperation"] is None
    assert message in result["userErrors"][0]["message"]
    assert result["userErrors"][0]["field"] == ["query"]


def test_bulk_reads_old_orders_only_with_read_all_orders():
    h = Harness(scopes={"read_orders", "read_customers"})
    h.clock.advance(-90 * 86_400)
    h.shop.add_order({"total_price": "1"})
    h.clock.advance(90 * 86_400)
    h.shop.add_order({"total_price": "2"})
    op = run(h, "{ orders { edges { node { id } } } }")["bulkOperation"]
    assert [row["id"] for row in lines(h, op["id"])] == ["gid://shopify/Order/2"]


def test_nodes_style_connections_and_aliases_flatten_the_same_way(h: Harness):
    op = run(h, "{ customers { nodes { id name: firstName orders { nodes { id } } } } }")["bulkOperation"]
    rows = lines(h, op["id"])
    assert rows[0] == {"id": "gid://shopify/Customer/1", "name": "A"}
    assert rows[1] == {"id": "gid://shopify/Order/1", "__parentId": "gid://shopify/Customer/1"}
