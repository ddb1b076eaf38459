"""Customer reads: by id, search filters, pagination, tags."""

from __future__ import annotations

import pytest

from tests.emulator.graphql_support import Harness

LIST = """query($q: String, $after: String, $first: Int = 2, $sort: CustomerSortKeys = ID) {
  customers(first: $first, after: $after, query: $q, sortKey: $sort) {
    edges { cursor node { id firstName } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.shop.add_customer(first_name="Taro", email="Taro@Example.com", phone="+819012345678", tags=["VIP"])
    h.clock.advance(60)
    h.shop.add_customer(first_name="Hanako", email="hanako@example.com")
    h.clock.advance(60)
    h.shop.add_customer(first_name="Jiro", phone="+818011112222")
    return h


def names(data: dict) -> list[str]:
    return [e["node"]["firstName"] for e in data["customers"]["edges"]]


def test_customer_by_id_and_unknown_id(h: Harness):
    q = "query($id: ID!) { customer(id: $id) { firstName tags defaultPhoneNumber { phoneNumber } } }"
    assert h.data(q, {"id": "gid://shopify/Customer/1"})["customer"] == {
        "firstName": "Taro",
        "tags": ["VIP"],
        "defaultPhoneNumber": {"phoneNumber": "+819012345678"},
    }
    assert h.data(q, {"id": "gid://shopify/Customer/999"})["customer"] is None


def test_email_filter_is_case_insensitive(h: Harness):
    assert names(h.data(LIST, {"q": "email:taro@example.com"})) == ["Taro"]


def test_phone_filter_matches_on_digits(h: Harness):
    assert names(h.data(LIST, {"q": "phone:+819012345678"})) == ["Taro"]
    assert names(h.data(LIST, {"q": "phone:819012345678"})) == ["Taro"]


def test_updated_at_filter(h: Harness):
    assert names(h.data(LIST, {"q": "updated_at:>'2025-11-23T00:00:30Z'"})) == ["Hanako", "Jiro"]


def test_or_and_negation(h: Harness):
    either = {"q": "email:hanako@example.com OR tag:VIP", "first": 10}
    assert names(h.data(LIST, either)) == ["Taro", "Hanako"]
    assert names(h.data(LIST, {"q": "-tag:VIP", "first": 10})) == ["Hanako", "Jiro"]


def test_unknown_search_field_is_ignored_with_a_warning_like_shopify(h: Harness):
    body = h.gql(LIST, {"q": "favourite_colour:blue", "first": 10})
    assert len(body["data"]["customers"]["edges"]) == 3
    assert body["extensions"]["search"][0]["warnings"][0]["field"] == "favourite_colour"


def test_cursor_pagination_walks_all_records_once(h: Harness):
    seen, after = [], None
    while True:
        page = h.data(LIST, {"after": after})["customers"]
        seen += [e["node"]["firstName"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Taro", "Hanako", "Jiro"]


def test_pagination_is_stable_when_records_are_added_between_pages(h: Harness):
    page = h.data(LIST, {"sort": "UPDATED_AT"})["customers"]
    h.shop.add_customer(first_name="Late")
    rest = h.data(LIST, {"sort": "UPDATED_AT", "after": page["pageInfo"]["endCursor"], "first": 10})
    assert names(rest) == ["Jiro", "Late"]


def test_connections_need_first_or_last_and_at_most_250(h: Harness):
    body = h.gql('{ customers(query: "") { nodes { id } } }')
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    body = h.gql("{ customers(first: 251) { nodes { id } } }")
    assert body["errors"][0]["message"].startswith("first cannot exceed 250")


def test_tags_add_and_remove(h: Harness):
    add = """mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) {
      node { ... on Customer { tags } } userErrors { field message } } }"""
    data = h.data(add, {"id": "gid://shopify/Customer/2", "tags": ["tsunagu:gold", "vip, line"]})
    assert data["tagsAdd"]["node"]["tags"] == ["line", "tsunagu:gold", "vip"]
    remove = """mutation($id: ID!, $tags: [String!]!) {
      tagsRemove(id: $id, tags: $tags) { userErrors { message } } }"""
    h.data(remove, {"id": "gid://shopify/Customer/2", "tags": ["VIP"]})
    assert h.shop.customer_tags(2) == ["line", "tsunagu:gold"]
    assert [t for _s, t, _p in h.events] == ["customers/update", "customers/update"]


def test_customer_merge_moves_orders_unions_tags_and_emits_webhook(h: Harness):
    h.shop.add_order({"customer": {"id": 1}, "total_price": "1000"})
    merge = """mutation { customerMerge(customerOneId: "gid://shopify/Customer/1",
      customerTwoId: "gid://shopify/Customer/2") { resultingCustomerId userErrors { message } } }"""
    result = h.data(merge)["customerMerge"]
    assert result == {"resultingCustomerId": "gid://shopify/Customer/2", "userErrors": []}
    assert 1 not in h.shop.customers
    assert h.shop.customer_tags(2) == ["VIP"]
    assert h.shop.customer_stats(2)["orders_count"] == 1
    [(_shop, topic, payload)] = h.events
    assert topic == "customers/merge"
    assert payload["admin_graphql_api_customer_deleted_id"] == "gid://shopify/Customer/1"


def test_backwards_pagination_with_last_and_before(h: Harness):
    q = """query($before: String) { customers(last: 2, before: $before) {
      nodes { firstName } pageInfo { hasPreviousPage hasNextPage startCursor } } }"""
    everything = h.data(LIST, {"first": 10})["customers"]["edges"]
    page = h.data(q, {"before": everything[-1]["cursor"]})["customers"]
    assert [n["firstName"] for n in page["nodes"]] == ["Taro", "Hanako"]
    assert (page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]) == (False, True)
    body = h.gql("{ customers(last: 2) { nodes { id } } }")
    assert body["errors"][0]["message"] == "using last without before is not supported"


def test_list_inputs_over_250_items_are_rejected(h: Harness):
    q = """mutation($tags: [String!]!) { tagsAdd(id: "gid://shopify/Customer/1", tags: $tags) {
      userErrors { message } } }"""
    body = h.gql(q, {"tags": [f"t{i}" for i in range(251)]})
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert h.shop.customer_tags(1) == ["VIP"]
