"""`$app` is the app's numeric id, segment filters name it, and MetafieldAdminAccess says who reads what."""

from __future__ import annotations

import pytest

from tests.emulator.graphql_support import API_KEY, Harness

OWNER = "gid://shopify/Customer/1"

SET = """mutation S($m: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $m) { metafields { namespace key value } userErrors { field message code } }
}"""
READ = (
    """query R($id: ID!) { customer(id: $id) { metafields(first: 50) { nodes { namespace key value } } } }"""
)
FILTERS = "{ segmentFilters(first: 250) { nodes { queryName } } }"
CREATE_SEGMENT = """mutation C($name: String!, $q: String!) {
  segmentCreate(name: $name, query: $q) { segment { id query } userErrors { field message } }
}"""
DEFINE = """mutation D($d: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $d) {
    createdDefinition { namespace key type { name } access { admin } }
    userErrors { field message code }
  }
}"""


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.shop.add_customer(id=1, first_name="Taro")
    return harness


def test_app_resolves_to_the_numeric_app_id_not_the_client_id(h: Harness):
    app = h.data("{ currentAppInstallation { id app { id apiKey } } }")["currentAppInstallation"]["app"]
    numeric = app["id"].rsplit("/", 1)[-1]
    assert app["apiKey"] == API_KEY
    assert numeric.isdigit() and numeric != API_KEY
    assert h.shop.app_namespace == f"app--{numeric}"
    written = h.data(SET, {"m": [{"ownerId": OWNER, "namespace": "$app", "key": "rank", "value": "gold"}]})
    assert written["metafieldsSet"]["metafields"] == [
        {"namespace": f"app--{numeric}", "key": "rank", "value": "gold"}
    ]


def test_segment_filters_name_the_resolved_namespace(h: Harness):
    names = {n["queryName"] for n in h.data(FILTERS)["segmentFilters"]["nodes"]}
    assert f"metafields.{h.shop.app_namespace}.rank" in names
    assert f"metafields.{h.shop.app_namespace}.purchase_history" not in names  # json is not segmentable
    assert not [n for n in names if API_KEY in n]


def test_a_query_naming_a_filter_the_shop_does_not_offer_is_refused_with_user_errors(h: Harness):
    # What an app that built the namespace from its client id would send.
    result = h.data(CREATE_SEGMENT, {"name": "Gold", "q": f"metafields.app--{API_KEY}.rank = 'gold'"})
    assert result["segmentCreate"]["segment"] is None
    [error] = result["segmentCreate"]["userErrors"]
    assert error["field"] == ["query"] and "filter cannot be found" in error["message"]
    assert h.shop.segments() == []


def test_another_apps_merchant_read_metafields_are_invisible(h: Harness):
    other = "app--999001"
    h.shop.add_metafield_definition(other, "status", "single_line_text_field", admin_access="merchant_read")
    h.shop.add_metafield_definition(
        "app--999002", "tier", "single_line_text_field", admin_access="public_read"
    )
    h.shop.write_metafield(OWNER, other, "status", "single_line_text_field", "vip")
    h.shop.write_metafield(OWNER, "app--999002", "tier", "single_line_text_field", "b")
    h.shop.write_metafield(OWNER, "custom", "note", "single_line_text_field", "hello")
    nodes = h.data(READ, {"id": OWNER})["customer"]["metafields"]["nodes"]
    assert {(n["namespace"], n["key"]) for n in nodes} == {("app--999002", "tier"), ("custom", "note")}


def test_other_apps_cannot_read_ours_but_can_read_merchant_owned_ones(h: Harness):
    h.data(SET, {"m": [{"ownerId": OWNER, "namespace": "$app", "key": "rank", "value": "gold"}]})
    h.shop.write_metafield(OWNER, "tsunagu", "rank", "single_line_text_field", "gold")
    assert h.shop.metafields_readable_by(1, "app--999001") == {"tsunagu.rank": "gold"}
    assert h.shop.metafields_readable_by(1, h.shop.app_namespace) == {
        f"{h.shop.app_namespace}.rank": "gold",
        "tsunagu.rank": "gold",
    }


def test_a_merchant_owned_definition_is_created_listed_as_a_filter_and_checks_writes(h: Harness):
    definition = {"ownerType": "CUSTOMER", "namespace": "tsunagu", "key": "rank", "name": "Rank"}
    created = h.data(DEFINE, {"d": {**definition, "type": "single_line_text_field"}})[
        "metafieldDefinitionCreate"
    ]
    assert created["userErrors"] == []
    assert created["createdDefinition"]["access"] == {"admin": "PUBLIC_READ_WRITE"}
    again = h.data(DEFINE, {"d": {**definition, "type": "single_line_text_field"}})[
        "metafieldDefinitionCreate"
    ]
    assert [e["code"] for e in again["userErrors"]] == ["TAKEN"]

    names = {n["queryName"] for n in h.data(FILTERS)["segmentFilters"]["nodes"]}
    assert "metafields.tsunagu.rank" in names
    wrong = h.data(
        SET,
        {
            "m": [
                {
                    "ownerId": OWNER,
                    "namespace": "tsunagu",
                    "key": "rank",
                    "type": "number_integer",
                    "value": "1",
                }
            ]
        },
    )["metafieldsSet"]
    assert [e["code"] for e in wrong["userErrors"]] == ["INVALID_TYPE"]
    h.data(SET, {"m": [{"ownerId": OWNER, "namespace": "tsunagu", "key": "rank", "value": "gold"}]})
    segment = h.data(CREATE_SEGMENT, {"name": "Gold (mirror)", "q": "metafields.tsunagu.rank = 'gold'"})
    assert segment["segmentCreate"]["userErrors"] == []
    assert h.shop.segment_members(segment["segmentCreate"]["segment"]["id"]) == [1]


def test_definition_access_and_reserved_namespaces_are_refused(h: Harness):
    merchant_with_access = {
        "ownerType": "CUSTOMER",
        "namespace": "tsunagu",
        "key": "points",
        "name": "Points",
        "type": "number_integer",
        "access": {"admin": "MERCHANT_READ"},
    }
    result = h.data(DEFINE, {"d": merchant_with_access})["metafieldDefinitionCreate"]
    assert [e["code"] for e in result["userErrors"]] == ["ADMIN_ACCESS_INPUT_NOT_ALLOWED"]
    foreign = {**merchant_with_access, "namespace": "app--999001"}
    foreign.pop("access")
    result = h.data(DEFINE, {"d": foreign})["metafieldDefinitionCreate"]
    assert [e["code"] for e in result["userErrors"]] == ["RESERVED_NAMESPACE_KEY"]
