"""Segment query language subset: parsing, evaluation over state and the segment mutations/queries."""

from __future__ import annotations

import pytest

from emulator.segment_query import SegmentQueryError, compile_segment_query, members
from tests.emulator.graphql_support import Harness

DAY = 86_400


@pytest.fixture
def h() -> Harness:
    """Three customers: a gold omni VIP, a silver online buyer, a newcomer without orders."""
    h = Harness()
    shop = h.shop
    gold = shop.add_customer(first_name="Gold", tags=["VIP", "line"])
    silver = shop.add_customer(first_name="Silver")
    shop.add_customer(first_name="New")
    h.clock.advance(-90 * DAY)
    shop.add_order({"customer": {"id": silver["id"]}, "total_price": "3000"})
    h.clock.advance(80 * DAY)
    shop.add_order({"customer": {"id": gold["id"]}, "total_price": "50000", "source_name": "pos"})
    shop.add_order({"customer": {"id": gold["id"]}, "total_price": "70000"})
    h.clock.advance(10 * DAY)
    ns = shop.app_namespace
    for cid, rank, points in ((gold["id"], "gold", "1200"), (silver["id"], "silver", "90")):
        shop.write_metafield(f"gid://shopify/Customer/{cid}", ns, "rank", "single_line_text_field", rank)
        shop.write_metafield(f"gid://shopify/Customer/{cid}", ns, "points_balance", "number_integer", points)
    shop.write_metafield("gid://shopify/Customer/1", ns, "line_linked", "boolean", "true")
    return h


def who(h: Harness, query: str) -> list[int]:
    return members(h.shop, compile_segment_query(query.replace("$ns", h.shop.app_namespace), h.shop))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("customer_tags CONTAINS 'VIP'", [1]),
        ("customer_tags CONTAINS 'vip'", [1]),
        ("customer_tags NOT CONTAINS 'VIP'", [2, 3]),
        ("amount_spent > 100000", [1]),
        ("amount_spent >= 3000", [1, 2]),
        ("number_of_orders = 0", [3]),
        ("number_of_orders >= 2", [1]),
        ("amount_spent BETWEEN 1000 AND 5000", [2]),
        ("last_order_date >= -30d", [1]),
        ("last_order_date >= 30_days_ago", [1]),
        ("last_order_date < -30d", [2]),
        ("first_order_date IS NULL", [3]),
        ("last_order_date IS NOT NULL", [1, 2]),
        ("metafields.$ns.rank = 'gold'", [1]),
        ("metafields.$ns.rank != 'gold'", [2, 3]),
        ("metafields.$ns.points_balance >= 100", [1]),
        ("metafields.$ns.points_balance < 100", [2]),
        ("metafields.$ns.line_linked = true", [1]),
        ("metafields.$ns.rank IS NULL", [3]),
        ("metafields.$ns.rank = 'gold' OR metafields.$ns.rank = 'silver'", [1, 2]),
        ("number_of_orders >= 1 AND (customer_tags CONTAINS 'VIP' OR amount_spent < 5000)", [1, 2]),
        ("NOT customer_tags CONTAINS 'VIP' AND number_of_orders >= 1", [2]),
        ("customer_added_date >= 2025-11-01", [1, 2, 3]),
        ("customer_added_date <= +7d", [1, 2, 3]),
        ("last_order_date >= today", []),
        ("metafields.$ns.rank = 'it\\'s'", []),
    ],
)
def test_evaluation(h: Harness, query: str, expected: list[int]):
    assert who(h, query) == expected


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("favourite_colour = 'blue'", "'favourite_colour' filter cannot be found"),
        ("email_subscription_status = 'SUBSCRIBED'", "not emulated by the Tsunagu Shopify emulator"),
        ("metafields.$ns.purchase_history = 'x'", "filter cannot be found"),  # json is not segmentable
        ("metafields.custom.rank = 'gold'", "filter cannot be found"),
        ("amount_spent > 'lots'", "not a valid value"),
        ("metafields.$ns.rank = gold", "not a valid value"),
        ("metafields.$ns.rank > 'gold'", "not a valid operator"),
        ("customer_tags = 'VIP'", "only supports CONTAINS"),
        ("amount_spent >", "missing value"),
        ("(amount_spent > 1", "expected rp"),
        ("", "blank"),
    ],
)
def test_invalid_queries_are_rejected(h: Harness, query: str, fragment: str):
    with pytest.raises(SegmentQueryError, match=fragment):
        compile_segment_query(query.replace("$ns", h.shop.app_namespace), h.shop)


def test_segment_filters_list_scalar_app_metafields_but_not_json(h: Harness):
    data = h.data("{ segmentFilters(first: 50) { nodes { queryName multiValue } } }")
    names = {n["queryName"] for n in data["segmentFilters"]["nodes"]}
    ns = h.shop.app_namespace
    assert {"customer_tags", "amount_spent", "number_of_orders", "last_order_date"} <= names
    assert f"metafields.{ns}.rank" in names
    assert f"metafields.{ns}.purchase_history" not in names
    scalar = [d for d in h.shop.config.definitions.values() if d.type != "json"]
    assert len([n for n in names if n.startswith("metafields.")]) == len(scalar)


def test_segment_create_then_members_by_segment_and_by_query_job(h: Harness):
    create = """mutation($q: String!) { segmentCreate(name: "Gold members", query: $q) {
      segment { id name query } userErrors { field message } } }"""
    seg = h.data(create, {"q": f"metafields.{h.shop.app_namespace}.rank = 'gold'"})["segmentCreate"][
        "segment"
    ]
    assert h.shop.segment_members(seg["id"]) == [1]
    dup = h.data(create, {"q": "amount_spent > 0"})["segmentCreate"]
    assert dup["userErrors"] == [{"field": ["name"], "message": "Name has already been taken"}]

    members_q = """query($id: ID) { customerSegmentMembers(first: 10, segmentId: $id) {
      totalCount edges { node { id firstName } } } }"""
    got = h.data(members_q, {"id": seg["id"]})["customerSegmentMembers"]
    assert got["totalCount"] == 1
    assert got["edges"][0]["node"] == {"id": "gid://shopify/CustomerSegmentMember/1", "firstName": "Gold"}

    job = h.data(
        """mutation { customerSegmentMembersQueryCreate(input: {query: "number_of_orders >= 1"}) {
             customerSegmentMembersQuery { id currentCount done } userErrors { code message } } }"""
    )["customerSegmentMembersQueryCreate"]["customerSegmentMembersQuery"]
    assert (job["currentCount"], job["done"]) == (2, False)
    polled = h.data(
        "query($id: ID!) { customerSegmentMembersQuery(id: $id) { done currentCount } }", {"id": job["id"]}
    )
    assert polled["customerSegmentMembersQuery"] == {"done": True, "currentCount": 2}
    by_job = h.data(
        "query($q: ID) { customerSegmentMembers(first: 1, queryId: $q) { edges { node { id } } } }",
        {"q": job["id"]},
    )
    assert len(by_job["customerSegmentMembers"]["edges"]) == 1


def test_invalid_query_is_a_user_error_on_create(h: Harness):
    data = h.data(
        'mutation { segmentCreate(name: "x", query: "bogus > 1") {'
        " segment { id } userErrors { field message } } }"
    )
    [err] = data["segmentCreate"]["userErrors"]
    assert err["field"] == ["query"]
    assert "'bogus' filter cannot be found" in err["message"]
    job = h.data(
        """mutation { customerSegmentMembersQueryCreate(input: {query: "bogus > 1"}) {
             customerSegmentMembersQuery { id } userErrors { code } } }"""
    )
    assert job["customerSegmentMembersQueryCreate"]["userErrors"] == [{"code": "INVALID"}]


def test_segments_listing_and_lookup(h: Harness):
    h.data(
        'mutation { segmentCreate(name: "VIP", query: "customer_tags CONTAINS \'VIP\'") {'
        " userErrors { message } } }"
    )
    listed = h.data("{ segments(first: 5) { nodes { id name query } } }")["segments"]["nodes"]
    assert [s["name"] for s in listed] == ["VIP"]
    one = h.data("query($id: ID!) { segment(id: $id) { name } }", {"id": listed[0]["id"]})
    assert one["segment"]["name"] == "VIP"


def test_escaped_quotes_in_text_values(h: Harness):
    h.shop.write_metafield(
        "gid://shopify/Customer/3", h.shop.app_namespace, "rank", "single_line_text_field", "it's"
    )
    assert who(h, "metafields.$ns.rank = 'it\\'s'") == [3]


def test_ad_hoc_member_queries_count_relative_dates_in_the_given_timezone_default_utc():
    h = Harness()
    c = h.shop.add_customer(first_name="T")
    h.clock.now = 1_763_892_000.0  # 2025-11-23T10:00Z = 19:00 in Tokyo
    h.shop.add_order({"customer": {"id": c["id"]}, "total_price": "1"})
    h.clock.now = 1_763_928_000.0  # 2025-11-23T20:00Z = 2025-11-24 05:00 in Tokyo
    h.token = h.state.tokens.issue_offline(h.shop.domain, set(h.state.config.scopes))["access_token"]
    q = "query($tz: String) { customerSegmentMembers(first: 5, query: $q, timezone: $tz) { totalCount } }"
    q = q.replace("$q", '"last_order_date >= today"')
    assert h.data(q)["customerSegmentMembers"]["totalCount"] == 1
    assert h.data(q, {"tz": "Asia/Tokyo"})["customerSegmentMembers"]["totalCount"] == 0
