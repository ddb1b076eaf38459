"""Customer GIDs: one builder for every GraphQL call that names a customer."""

from app.shopify.ids import customer_gid


def test_a_numeric_id_becomes_a_customer_gid():
    assert customer_gid("7001") == "gid://shopify/Customer/7001"
    assert customer_gid(7001) == "gid://shopify/Customer/7001"


def test_a_gid_is_kept_as_it_is():
    assert customer_gid("gid://shopify/Customer/7001") == "gid://shopify/Customer/7001"
