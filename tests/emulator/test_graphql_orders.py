"""Orders resolve from the REST-shaped records: fields, POS location, refunds, updated_at polling."""

from __future__ import annotations

import pytest

from tests.emulator.graphql_support import Harness

ORDER = """query($id: ID!) { order(id: $id) {
  id name createdAt updatedAt processedAt cancelledAt sourceName displayFinancialStatus discountCodes
  currentTotalPriceSet { shopMoney { amount currencyCode } }
  totalPriceSet { shopMoney { amount } }
  customer { id }
  retailLocation { id name }
  refunds { id createdAt totalRefundedSet { shopMoney { amount } } }
  lineItems(first: 10) { nodes { title quantity } }
} }"""
POLL = """query($q: String!, $after: String) {
  orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
    nodes { id updatedAt } pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture
def h() -> Harness:
    h = Harness()
    cust = h.shop.add_customer(first_name="Taro")
    store = h.shop.add_location("Ginza")
    h.shop.add_order(
        {
            "customer": {"id": cust["id"]},
            "source_name": "pos",
            "location_id": store["id"],
            "total_price": "11000",
            "line_items": [{"id": 7, "title": "Matcha", "quantity": 2, "price": "5500"}],
            "discount_codes": [{"code": "TSUNAGU-500", "amount": "500", "type": "fixed_amount"}],
        }
    )
    h.clock.advance(60)
    h.shop.add_order(
        {"customer": None, "source_name": "pos", "location_id": store["id"], "total_price": "800"}
    )
    h.clock.advance(60)
    h.shop.add_order({"customer": {"id": cust["id"]}, "source_name": "web", "total_price": "3000"})
    return h


def test_pos_order_fields(h: Harness):
    o = h.data(ORDER, {"id": "gid://shopify/Order/1"})["order"]
    assert o["sourceName"] == "pos"
    assert o["retailLocation"] == {"id": "gid://shopify/Location/1", "name": "Ginza"}
    assert o["currentTotalPriceSet"]["shopMoney"] == {"amount": "11000.0", "currencyCode": "JPY"}
    assert o["customer"] == {"id": "gid://shopify/Customer/1"}
    assert o["displayFinancialStatus"] == "PAID"
    assert o["discountCodes"] == ["TSUNAGU-500"]
    assert o["lineItems"]["nodes"] == [{"title": "Matcha", "quantity": 2}]


def test_walk_in_and_online_orders(h: Harness):
    walk_in = h.data(ORDER, {"id": "gid://shopify/Order/2"})["order"]
    assert walk_in["customer"] is None
    online = h.data(ORDER, {"id": "gid://shopify/Order/3"})["order"]
    assert online["retailLocation"] is None


def test_refund_lowers_current_total_and_bumps_updated_at(h: Harness):
    h.clock.advance(600)
    h.shop.add_refund(1, {"transactions": [{"kind": "refund", "amount": "5500"}]})
    o = h.data(ORDER, {"id": "gid://shopify/Order/1"})["order"]
    assert o["currentTotalPriceSet"]["shopMoney"]["amount"] == "5500.0"
    assert o["totalPriceSet"]["shopMoney"]["amount"] == "11000.0"
    assert o["refunds"][0]["totalRefundedSet"]["shopMoney"]["amount"] == "5500.0"
    assert o["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert o["updatedAt"] > o["createdAt"]


def test_updated_at_polling_with_pagination(h: Harness):
    h.clock.advance(600)
    h.shop.update_order(1, note="edited")
    since = "2025-11-23T00:00:30Z"
    first = h.data(POLL, {"q": f"updated_at:>'{since}'"})["orders"]
    assert [n["id"] for n in first["nodes"]] == ["gid://shopify/Order/2", "gid://shopify/Order/3"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = h.data(POLL, {"q": f"updated_at:>'{since}'", "after": first["pageInfo"]["endCursor"]})["orders"]
    assert [n["id"] for n in rest["nodes"]] == ["gid://shopify/Order/1"]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_customer_orders_and_derived_totals(h: Harness):
    data = h.data(
        """{ customer(id: "gid://shopify/Customer/1") { numberOfOrders amountSpent { amount }
             orders(first: 5) { nodes { name } } } }"""
    )["customer"]
    assert data["numberOfOrders"] == "2"
    assert data["amountSpent"]["amount"] == "14000.0"
    assert [n["name"] for n in data["orders"]["nodes"]] == ["#1001", "#1003"]


def test_without_read_all_orders_only_the_last_60_days_are_visible():
    h = Harness(scopes={"read_orders"})
    h.clock.advance(-61 * 86_400)
    h.shop.add_order({"total_price": "1"})
    h.clock.advance(61 * 86_400)
    h.shop.add_order({"total_price": "2"})
    nodes = h.data("{ orders(first: 10) { nodes { id } } }")["orders"]["nodes"]
    assert nodes == [{"id": "gid://shopify/Order/2"}]
    assert h.data('{ order(id: "gid://shopify/Order/1") { id } }')["order"] is None


def test_locations(h: Harness):
    h.shop.add_location("Akasaka")
    nodes = h.data("{ locations(first: 10) { nodes { name isActive } } }")["locations"]["nodes"]
    assert nodes == [{"name": "Akasaka", "isActive": True}, {"name": "Ginza", "isActive": True}]


def test_refund_transactions_and_money_totals(h: Harness):
    h.shop.add_refund(1, {"transactions": [{"kind": "refund", "amount": "1000", "gateway": "cash"}]})
    o = h.data(
        """{ order(id: "gid://shopify/Order/1") { totalTaxSet { shopMoney { amount } } fullyPaid
             refunds { transactions(first: 5) {
               nodes { kind status gateway amountSet { shopMoney { amount } } } } } } }"""
    )["order"]
    assert o["fullyPaid"] is True
    assert o["refunds"][0]["transactions"]["nodes"] == [
        {
            "kind": "REFUND",
            "status": "SUCCESS",
            "gateway": "cash",
            "amountSet": {"shopMoney": {"amount": "1000.0"}},
        }
    ]


def test_node_and_nodes_resolve_modelled_kinds(h: Harness):
    data = h.data(
        """{ node(id: "gid://shopify/Order/3") { id ... on Order { sourceName } }
             nodes(ids: ["gid://shopify/Customer/1", "gid://shopify/Customer/99",
                         "gid://shopify/Location/1"]) {
               __typename ... on Customer { firstName } ... on Location { name } } }"""
    )
    assert data["node"] == {"id": "gid://shopify/Order/3", "sourceName": "web"}
    assert data["nodes"] == [
        {"__typename": "Customer", "firstName": "Taro"},
        None,
        {"__typename": "Location", "name": "Ginza"},
    ]
    body = h.gql('{ node(id: "gid://shopify/Product/1") { id } }')
    assert "not emulated" in body["errors"][0]["message"]
