"""Calculated query cost and the leaky bucket behave as shopify.dev documents them."""

from __future__ import annotations

import pytest

from emulator.cost import LeakyBucket
from tests.emulator.graphql_support import Harness

SET_ONE = (
    """mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { message } } }"""
)
# 2 + 250 * (1 customer + 1 amountSpent) = 502 requested points.
BIG = "{ customers(first: 250) { edges { node { id amountSpent { amount } } } } }"


def cost(body: dict) -> dict:
    return body["extensions"]["cost"]


@pytest.fixture
def h() -> Harness:
    h = Harness()
    for i in range(3):
        h.shop.add_customer(first_name=f"C{i}")
    return h


def test_scalars_are_free_objects_cost_one(h: Harness):
    c = cost(h.gql("{ shop { name currencyCode ianaTimezone } }"))
    assert (c["requestedQueryCost"], c["actualQueryCost"]) == (1, 1)


def test_connection_costs_two_plus_page_size_and_actual_counts_returned_items(h: Harness):
    c = cost(h.gql("{ customers(first: 10) { edges { node { id firstName } } pageInfo { hasNextPage } } }"))
    assert c["requestedQueryCost"] == 2 + 10 * 1
    assert c["actualQueryCost"] == 2 + 3 * 1


def test_nested_objects_multiply_by_page_size(h: Harness):
    c = cost(h.gql("{ customers(first: 5) { nodes { id amountSpent { amount } } } }"))
    assert c["requestedQueryCost"] == 2 + 5 * 2
    assert c["actualQueryCost"] == 2 + 3 * 2


def test_null_object_costs_nothing_actual(h: Harness):
    c = cost(h.gql('{ customer(id: "gid://shopify/Customer/99") { id amountSpent { amount } } }'))
    assert (c["requestedQueryCost"], c["actualQueryCost"]) == (2, 0)


def test_mutation_costs_ten(h: Harness):
    body = h.gql(SET_ONE, {"m": [{"ownerId": "gid://shopify/Customer/1", "key": "rank", "value": "gold"}]})
    assert cost(body)["requestedQueryCost"] == cost(body)["actualQueryCost"] == 10


def test_difference_between_requested_and_actual_is_refunded(h: Harness):
    body = h.gql(BIG)
    c = cost(body)
    assert c["requestedQueryCost"] == 502
    assert c["throttleStatus"]["currentlyAvailable"] == 2000 - c["actualQueryCost"]


def test_single_query_over_1000_is_rejected_before_running(h: Harness):
    body = h.gql("{ customers(first: 250) { nodes { id orders(first: 10) { nodes { id } } } } }")
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert cost(body)["throttleStatus"]["currentlyAvailable"] == 2000


def test_empty_bucket_throttles_with_shopify_shape_and_changes_nothing(h: Harness):
    h.shop.bucket.drain()
    status, body = h.call(
        SET_ONE, {"m": [{"ownerId": "gid://shopify/Customer/1", "key": "rank", "value": "x"}]}
    )
    assert status == 200
    assert body["errors"] == [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }
    ]
    assert "data" not in body
    assert cost(body)["actualQueryCost"] is None
    assert h.shop.customer_metafields(1) == {}
    assert h.shop.throttled_count == 1


def test_bucket_restores_at_the_plan_rate(h: Harness):
    h.shop.bucket.drain()
    assert h.shop.bucket.status()["restoreRate"] == 100
    h.clock.advance(0.05)  # 5 points: not enough for a mutation
    assert h.gql(SET_ONE, {"m": []})["errors"][0]["extensions"]["code"] == "THROTTLED"
    h.clock.advance(0.1)  # 15 points
    assert "errors" not in h.gql(SET_ONE, {"m": []})


def test_bucket_never_exceeds_maximum(h: Harness):
    h.clock.advance(600)  # access tokens live 3600 s
    assert cost(h.gql("{ shop { name } }"))["throttleStatus"]["currentlyAvailable"] == 1999


@pytest.mark.parametrize(
    ("plan", "rate"), [("standard", 100), ("advanced", 200), ("plus", 1000), ("enterprise", 2000)]
)
def test_restore_rate_by_plan(plan: str, rate: int):
    h = Harness(plan=plan)
    assert cost(h.gql("{ shop { name } }"))["throttleStatus"]["restoreRate"] == rate


def test_sustained_throughput_is_bounded_by_restore_rate():
    clock_now = [0.0]
    bucket = LeakyBucket(maximum=2000, restore_rate=100, clock=lambda: clock_now[0])
    taken = 0
    for _ in range(1000):  # 10 s of one mutation every 10 ms
        if bucket.try_take(10):
            taken += 1
        clock_now[0] += 0.01
    # 2000 points of burst plus ~10 s * 100 points/s, at 10 points each.
    assert 295 <= taken <= 301


def test_page_size_from_variables_and_their_declared_defaults(h: Harness):
    q = "query($n: Int = 20) { customers(first: $n) { nodes { id } } }"
    assert cost(h.gql(q))["requestedQueryCost"] == 22
    assert cost(h.gql(q, {"n": 50}))["requestedQueryCost"] == 52


def test_aliases_are_costed_separately(h: Harness):
    q = "{ a: customers(first: 5) { nodes { id } } b: customers(first: 5) { nodes { id } } }"
    c = cost(h.gql(q))
    assert (c["requestedQueryCost"], c["actualQueryCost"]) == (14, 10)
