"""The GraphQL endpoint answers like Shopify: auth, unknown shops, invalid documents, unmodelled fields."""

from __future__ import annotations

import pytest
from flask import Flask

from emulator.graphql_view import INVALID_TOKEN, create_graphql_blueprint
from tests.emulator.graphql_support import SHOP, Harness


@pytest.fixture
def h() -> Harness:
    return Harness()


@pytest.fixture
def client(h: Harness):
    app = Flask(__name__)
    app.register_blueprint(create_graphql_blueprint(h.state))
    return app.test_client()


def post(client, token: str, query: str, host: str = SHOP, version: str = "2026-07"):
    return client.post(
        f"/admin/api/{version}/graphql.json",
        json={"query": query},
        headers={"X-Shopify-Access-Token": token, "Host": f"{host}:9292"},
    )


def test_shop_comes_from_host_header_and_every_answer_has_cost(h: Harness, client):
    resp = post(client, h.token, "{ shop { myshopifyDomain currencyCode ianaTimezone } }")
    assert resp.status_code == 200
    assert resp.headers["X-Shopify-API-Version"] == "2026-07"
    body = resp.get_json()
    expected = {"myshopifyDomain": SHOP, "currencyCode": "JPY", "ianaTimezone": "Asia/Tokyo"}
    assert body["data"]["shop"] == expected
    assert set(body["extensions"]["cost"]) == {"requestedQueryCost", "actualQueryCost", "throttleStatus"}


def test_unknown_shop_is_404(h: Harness, client):
    assert post(client, h.token, "{ shop { name } }", host="other.myshopify.com").status_code == 404


def test_unknown_or_revoked_token_is_401_with_shopify_body(h: Harness, client):
    resp = post(client, "shpat_wrong", "{ shop { name } }")
    assert (resp.status_code, resp.get_json()) == (401, {"errors": INVALID_TOKEN})
    h.state.tokens.revoke(SHOP)
    assert post(client, h.token, "{ shop { name } }").status_code == 401


def test_only_the_schema_version_we_have_is_served(h: Harness, client):
    assert post(client, h.token, "{ shop { name } }", version="2025-01").status_code == 404


def test_invalid_document_gets_shopify_shaped_errors_and_costs_nothing(h: Harness):
    body = h.gql("{ shop { nmae } }")
    [err] = body["errors"]
    assert err["locations"] == [{"line": 1, "column": 10}]
    assert err["extensions"]["code"] == "undefinedField"
    assert "data" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 0


def test_valid_but_unmodelled_root_field_is_a_clear_error_not_fake_data(h: Harness):
    h_full = Harness(scopes={"read_products"})
    body = h_full.gql("{ products(first: 1) { nodes { id } } }")
    assert body["data"] is None
    assert body["errors"][0]["message"] == "products is not emulated by the Tsunagu Shopify emulator"
    assert body["errors"][0]["extensions"]["code"] == "NOT_EMULATED"


def test_valid_but_unmodelled_nested_field_is_a_clear_error(h: Harness):
    c = h.shop.add_customer(first_name="A")
    body = h.gql("query($id: ID!) { customer(id: $id) { id taxExempt } }", {"id": c["admin_graphql_api_id"]})
    message = body["errors"][0]["message"]
    assert message == "Customer.taxExempt is not emulated by the Tsunagu Shopify emulator"


def test_missing_scope_gives_access_denied_for_that_field(h: Harness):
    reader = Harness(scopes={"read_customers"})
    body = reader.gql("{ orders(first: 1) { nodes { id } } shop { name } }")
    [err] = body["errors"]
    assert err["extensions"]["code"] == "ACCESS_DENIED"
    assert err["path"] == ["orders"]
    assert err["message"].startswith("Access denied for orders field. Required access: `read_orders`")


def test_write_scope_implies_read(h: Harness):
    writer = Harness(scopes={"write_customers"})
    writer.shop.add_customer(first_name="A")
    data = writer.data("{ customers(first: 1) { nodes { firstName } } }")
    assert data["customers"]["nodes"] == [{"firstName": "A"}]


def test_missing_query_is_400(h: Harness):
    from emulator.graphql_view import run_graphql

    assert run_graphql(h.state, SHOP, h.token, {"variables": {}})[0] == 400


def test_application_graphql_bodies_are_accepted(h: Harness, client):
    resp = client.post(
        "/admin/api/2026-07/graphql.json",
        data="{ shop { currencyCode } }",
        content_type="application/graphql",
        headers={"X-Shopify-Access-Token": h.token, "Host": SHOP},
    )
    assert resp.get_json()["data"] == {"shop": {"currencyCode": "JPY"}}


def test_a_crashing_resolver_is_flagged_not_disguised(h: Harness, monkeypatch):
    from emulator.resolvers import dispatch

    def boom(ctx, info):
        raise RuntimeError("bug")

    monkeypatch.setitem(dispatch.QUERY_RESOLVERS, "shop", boom)
    body = h.gql("{ shop { name } }")
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


def test_variables_of_the_wrong_type_are_rejected_with_invalid_variable(h: Harness):
    body = h.gql("query($n: Int!) { customers(first: $n) { nodes { id } } }", {"n": "ten"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert body["extensions"]["cost"]["actualQueryCost"] == 0
    missing = h.gql("query($id: ID!) { customer(id: $id) { id } }", {})
    assert missing["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
