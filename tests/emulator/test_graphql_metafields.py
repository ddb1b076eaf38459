"""metafieldsSet: the 25 limit, type checks against the TOML definitions, compareDigest, atomicity."""

from __future__ import annotations

import json

import pytest

from tests.emulator.graphql_support import Harness

SET = """mutation($m: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $m) {
    metafields { namespace key type value compareDigest }
    userErrors { field message code elementIndex }
  }
}"""
READ = """query($id: ID!) { customer(id: $id) {
  metafield(namespace: "$app", key: "points_balance") { value type compareDigest }
  metafields(first: 20, namespace: "$app") { nodes { key value } }
} }"""
OWNER = "gid://shopify/Customer/1"


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.shop.add_customer(first_name="Taro")
    return h


def mf(key: str, value: str, **extra) -> dict:
    return {"ownerId": OWNER, "namespace": "$app", "key": key, "value": value, **extra}


def test_set_and_read_back_through_app_namespace(h: Harness):
    data = h.data(SET, {"m": [mf("points_balance", "120"), mf("rank", "gold")]})
    assert data["metafieldsSet"]["userErrors"] == []
    ns = h.shop.app_namespace
    assert [(m["namespace"], m["type"]) for m in data["metafieldsSet"]["metafields"]] == [
        (ns, "number_integer"),
        (ns, "single_line_text_field"),
    ]
    read = h.data(READ, {"id": OWNER})["customer"]
    assert read["metafield"]["value"] == "120"
    assert {n["key"] for n in read["metafields"]["nodes"]} == {"points_balance", "rank"}
    assert h.shop.customer_metafields(1)["points_balance"] == {"type": "number_integer", "value": "120"}


def test_more_than_25_is_rejected_and_nothing_written(h: Harness):
    body = h.gql(SET, {"m": [mf("rank", "gold")] * 26})
    [err] = body["errors"]
    assert err["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert err["message"] == "The input array size of 26 is greater than the maximum allowed of 25."
    assert body["data"] == {"metafieldsSet": None}
    assert h.shop.customer_metafields(1) == {}
    assert h.shop.mutation_log[-1] == ("metafieldsSet", {"metafields": 26, "bytes": 26 * 4})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("points_balance", "12.5"),
        ("points_balance", "ten"),
        ("spend_12m", "1,000"),
        ("last_purchase_at", "2025/11/01"),
        ("last_purchase_at", "2025-02-30"),
        ("line_linked", "yes"),
        ("purchase_history", "{not json"),
        ("rank", "gold\nplatinum"),
    ],
)
def test_values_are_checked_against_the_declared_type(h: Harness, key: str, value: str):
    data = h.data(SET, {"m": [mf(key, value)]})["metafieldsSet"]
    assert data["metafields"] is None
    [err] = data["userErrors"]
    assert (err["code"], err["field"], err["elementIndex"]) == (
        "INVALID_VALUE",
        ["metafields", "0", "value"],
        0,
    )


def test_valid_values_of_every_declared_type_pass(h: Harness):
    values = [
        mf("points_balance", "-5"),
        mf("spend_12m", "123456.78"),
        mf("last_purchase_at", "2025-11-01"),
        mf("line_linked", "true"),
        mf("purchase_history", json.dumps({"purchases": [], "totals": {"store": 0}})),
        mf("channel_mix", "omni"),
    ]
    assert h.data(SET, {"m": values})["metafieldsSet"]["userErrors"] == []


def test_type_mismatching_the_definition_is_rejected(h: Harness):
    errs = h.data(SET, {"m": [mf("points_balance", "5", type="single_line_text_field")]})["metafieldsSet"]
    assert errs["userErrors"][0]["code"] == "INVALID_TYPE"


def test_one_bad_input_makes_the_whole_call_fail(h: Harness):
    data = h.data(SET, {"m": [mf("rank", "gold"), mf("points_balance", "x")]})["metafieldsSet"]
    assert data["userErrors"][0]["elementIndex"] == 1
    assert h.shop.customer_metafields(1) == {}


def test_compare_digest_null_means_must_not_exist(h: Harness):
    assert h.data(SET, {"m": [mf("rank", "gold", compareDigest=None)]})["metafieldsSet"]["userErrors"] == []
    again = h.data(SET, {"m": [mf("rank", "silver", compareDigest=None)]})["metafieldsSet"]
    assert again["userErrors"][0]["code"] == "STALE_OBJECT"
    assert h.shop.customer_metafields(1)["rank"]["value"] == "gold"


def test_compare_digest_must_match_the_current_value(h: Harness):
    first = h.data(SET, {"m": [mf("points_balance", "10")]})["metafieldsSet"]["metafields"][0]
    ok = h.data(SET, {"m": [mf("points_balance", "20", compareDigest=first["compareDigest"])]})
    assert ok["metafieldsSet"]["userErrors"] == []
    stale = h.data(SET, {"m": [mf("points_balance", "30", compareDigest=first["compareDigest"])]})
    err = stale["metafieldsSet"]["userErrors"][0]
    assert (err["code"], err["field"]) == ("STALE_OBJECT", ["metafields", "0", "compareDigest"])
    assert h.shop.customer_metafields(1)["points_balance"]["value"] == "20"


def test_unknown_owner_is_a_user_error(h: Harness):
    data = h.data(SET, {"m": [{**mf("rank", "x"), "ownerId": "gid://shopify/Customer/404"}]})["metafieldsSet"]
    assert data["userErrors"][0]["field"] == ["metafields", "0", "ownerId"]


def test_writing_customer_metafields_needs_write_customers():
    h = Harness(scopes={"read_customers"})
    h.shop.add_customer(first_name="A")
    body = h.gql(SET, {"m": [mf("rank", "gold")]})
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


def test_definitions_come_from_the_toml(h: Harness):
    data = h.data(
        """{ metafieldDefinitions(first: 50, ownerType: CUSTOMER, namespace: "$app") {
             nodes { key namespace type { name } } } }"""
    )
    defs = {n["key"]: n["type"]["name"] for n in data["metafieldDefinitions"]["nodes"]}
    assert set(defs) == set(h.shop.config.definitions)
    assert defs["purchase_history"] == "json"
    assert defs["last_store_visit_at"] == "date"


def test_metafields_delete_reports_null_for_missing_ones(h: Harness):
    h.data(SET, {"m": [mf("rank", "gold")]})
    delete = """mutation($m: [MetafieldIdentifierInput!]!) { metafieldsDelete(metafields: $m) {
      deletedMetafields { ownerId namespace key } userErrors { field message } } }"""
    ids = [{"ownerId": OWNER, "namespace": "$app", "key": k} for k in ("rank", "points_balance")]
    result = h.data(delete, {"m": ids})["metafieldsDelete"]
    assert result["deletedMetafields"] == [
        {"ownerId": OWNER, "namespace": h.shop.app_namespace, "key": "rank"},
        None,
    ]
    assert h.shop.customer_metafields(1) == {}


def test_concurrent_compare_and_set_lets_exactly_one_writer_win(h: Harness):
    from concurrent.futures import ThreadPoolExecutor

    digest = h.data(SET, {"m": [mf("points_balance", "0")]})["metafieldsSet"]["metafields"][0][
        "compareDigest"
    ]
    h.shop.bucket.restore_rate = 1_000_000  # this test is about atomicity, not throttling

    def write(n: int) -> bool:
        result = h.data(SET, {"m": [mf("points_balance", str(n), compareDigest=digest)]})["metafieldsSet"]
        return not result["userErrors"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(write, range(1, 17)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True) + 1
    assert h.shop.customer_metafields(1)["points_balance"]["value"] == str(winner)
