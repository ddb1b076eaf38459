"""The seeding and inspection API other parts (demo data, app tests) build on."""

from __future__ import annotations

import pytest

from emulator.state import EmulatorState
from tests.emulator.graphql_support import API_KEY, SHOP, Harness


def test_install_is_idempotent_and_unknown_shop_raises():
    state = EmulatorState(API_KEY, "secret")
    shop = state.install_shop(SHOP, plan="plus")
    assert state.install_shop(SHOP) is shop
    assert state.shop(SHOP).bucket.restore_rate == 1000
    with pytest.raises(KeyError):
        state.shop("nope.myshopify.com")
    with pytest.raises(ValueError, match="unknown plan"):
        state.install_shop("x.myshopify.com", plan="gold")


def test_ids_increase_and_gids_match():
    h = Harness()
    a, b = h.shop.add_customer(first_name="A"), h.shop.add_customer(first_name="B")
    assert (a["id"], b["id"]) == (1, 2)
    assert b["admin_graphql_api_id"] == "gid://shopify/Customer/2"
    supplied = h.shop.add_order({"id": 5_000_000, "total_price": "1"})
    assert supplied["admin_graphql_api_id"] == "gid://shopify/Order/5000000"
    assert h.shop.add_order({"total_price": "1"})["id"] == 5_000_001


def test_seeded_metafields_and_inspection():
    h = Harness()
    c = h.shop.add_customer(first_name="A", tags="b, a", metafields={"rank": "gold", "points_balance": "10"})
    assert h.shop.customer_tags(c["id"]) == ["a", "b"]
    assert h.shop.customer_metafields(c["id"]) == {
        "points_balance": {"type": "number_integer", "value": "10"},
        "rank": {"type": "single_line_text_field", "value": "gold"},
    }


def test_update_order_bumps_updated_at_and_moves_customer_index():
    h = Harness()
    a, b = h.shop.add_customer(), h.shop.add_customer()
    order = h.shop.add_order({"customer": {"id": a["id"]}, "total_price": "100"})
    h.clock.advance(5)
    h.shop.update_order(order["id"], customer={"id": b["id"]})
    assert order["updated_at"] > order["created_at"]
    assert h.shop.customer_stats(a["id"])["orders_count"] == 0
    assert h.shop.customer_stats(b["id"])["amount_spent"] == 100


def test_cancelled_orders_do_not_count_towards_spend():
    h = Harness()
    c = h.shop.add_customer()
    h.shop.add_order(
        {"customer": {"id": c["id"]}, "total_price": "100", "cancelled_at": "2025-11-23T00:00:00Z"}
    )
    assert h.shop.customer_stats(c["id"])["orders_count"] == 0


def test_emit_reaches_on_event_hook():
    h = Harness()
    h.state.emit(SHOP, "app/uninstalled", {"id": 1})
    assert h.events == [(SHOP, "app/uninstalled", {"id": 1})]


def test_app_uninstall_revokes_tokens_and_announces_it():
    h = Harness()
    data = h.data("mutation { appUninstall { app { apiKey } userErrors { message } } }")
    assert data["appUninstall"]["app"]["apiKey"] == API_KEY
    assert [t for _s, t, _p in h.events] == ["app/uninstalled"]
    assert h.call("{ shop { name } }")[0] == 401


def test_webhook_subscriptions_lists_only_shop_scoped_ones_like_shopify():
    h = Harness()
    q = "{ webhookSubscriptions(first: 10) { nodes { topic uri } } }"
    assert h.data(q)["webhookSubscriptions"]["nodes"] == []
    assert "orders/create" in h.shop.app_webhook_topics()
    h.shop.add_webhook_subscription("orders/create", "https://tsunagu.test/webhooks")
    nodes = h.data(q)["webhookSubscriptions"]["nodes"]
    assert nodes == [{"topic": "ORDERS_CREATE", "uri": "https://tsunagu.test/webhooks"}]


def test_discount_code_for_one_customer():
    h = Harness()
    c = h.shop.add_customer()
    create = """mutation($d: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $d) {
      codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { title status usageLimit
        codes(first: 1) { nodes { code } } } } }
      userErrors { field message code } } }"""
    d = {
        "title": "500 points reward",
        "code": "TSUNAGU-ABC",
        "startsAt": "2025-11-01T00:00:00Z",
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [c["admin_graphql_api_id"]]}},
        "customerGets": {
            "value": {"discountAmount": {"amount": "500", "appliesOnEachItem": False}},
            "items": {"all": True},
        },
    }
    node = h.data(create, {"d": d})["discountCodeBasicCreate"]["codeDiscountNode"]
    assert node["codeDiscount"]["status"] == "ACTIVE"
    assert node["codeDiscount"]["codes"]["nodes"] == [{"code": "TSUNAGU-ABC"}]
    again = h.data(create, {"d": d})["discountCodeBasicCreate"]
    assert again["userErrors"][0]["code"] == "TAKEN"
    assert h.shop.discounts[1]["customer_ids"] == [c["id"]]
    h.shop.add_order(
        {"customer": {"id": c["id"]}, "discount_codes": [{"code": "tsunagu-abc", "amount": "500"}]}
    )
    assert h.shop.discounts[1]["usage_count"] == 1
    found = h.data('{ codeDiscountNodeByCode(code: "tsunagu-abc") { id } }')["codeDiscountNodeByCode"]
    assert found == {"id": node["id"]}
    assert h.data('{ codeDiscountNodeByCode(code: "NOPE") { id } }')["codeDiscountNodeByCode"] is None


def test_first_and_last_order_compare_instants_across_offsets():
    h = Harness()
    c = h.shop.add_customer()
    h.shop.add_order(
        {"customer": {"id": c["id"]}, "processed_at": "2025-11-01T08:00:00+09:00"}
    )  # 23:00Z Oct 31
    h.shop.add_order({"customer": {"id": c["id"]}, "processed_at": "2025-10-31T23:30:00Z"})
    stats = h.shop.customer_stats(c["id"])
    assert stats["first_order_at"] == "2025-11-01T08:00:00+09:00"
    assert stats["last_order_at"] == "2025-10-31T23:30:00Z"
