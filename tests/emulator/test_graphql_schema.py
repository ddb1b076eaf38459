"""Documents are validated against Shopify's published 2026-07 schema; scopes come from its offline_scopes."""

from __future__ import annotations

from emulator.schema import required_scopes, scope_requirements, validate


def test_a_field_shopify_has_validates():
    doc = '{ customer(id: "gid://shopify/Customer/1") { id defaultEmailAddress { emailAddress } } }'
    assert validate(doc) == []


def test_a_field_the_schema_lacks_is_rejected():
    errors = validate('{ customer(id: "gid://shopify/Customer/1") { id emailAddress } }')
    [message] = [e.message for e in errors]
    assert message.startswith("Cannot query field 'emailAddress' on type 'Customer'.")


def test_syntax_errors_and_unknown_arguments_are_rejected():
    assert validate("{ shop { name ")[0].message.startswith("Syntax Error")
    errors = validate("{ customers(frist: 10) { nodes { id } } }")
    assert any("Unknown argument 'frist'" in e.message for e in errors)


def test_validation_is_cached_by_document_text():
    from emulator.schema import _validate_cached

    doc = "{ shop { name currencyCode } } # cache probe"
    before = _validate_cached.cache_info()
    assert validate(doc) == validate(doc) == []
    after = _validate_cached.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


def test_read_scopes_of_a_query_come_from_the_types_it_touches():
    doc = "{ orders(first: 1) { nodes { id retailLocation { name } customer { id } } } }"
    assert required_scopes(doc) == {"read_orders", "read_locations", "read_customers"}


def test_mutations_need_write_scopes_and_write_covers_read():
    doc = """mutation($q: CustomerSegmentMembersQueryInput!) {
      customerSegmentMembersQueryCreate(input: $q) { customerSegmentMembersQuery { id } }
      segmentCreate(name: "x", query: "y") { segment { id } }
    }"""
    # customerSegmentMembersQueryCreate needs read_customers, segmentCreate write_customers: write covers it.
    assert required_scopes(doc) == {"write_customers"}


def test_alternatives_are_kept_in_requirements():
    reqs = {r.coordinate: r for r in scope_requirements("{ locations(first: 1) { nodes { id } } }")}
    assert reqs["Location"].alternatives == {"read_locations", "read_inventory", "read_markets_home"}


def test_customer_writes_whose_scope_depends_on_the_owner_need_write_customers():
    doc = """mutation($m: [MetafieldsSetInput!]!, $id: ID!) {
      metafieldsSet(metafields: $m) { userErrors { message } }
      tagsAdd(id: $id, tags: ["x"]) { userErrors { message } }
    }"""
    assert required_scopes(doc) == {"write_customers"}


def test_schema_attribute_is_the_real_schema():
    from graphql import GraphQLSchema

    from emulator.schema import SCHEMA, load_schema

    assert isinstance(SCHEMA, GraphQLSchema)
    assert SCHEMA is load_schema()
    assert SCHEMA.query_type.name == "QueryRoot"
