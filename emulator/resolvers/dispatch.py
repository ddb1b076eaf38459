"""Execution on graphql-core: root fields dispatch to resolver functions, other fields read dict keys.

Node objects are dicts keyed by GraphQL field name; a callable value is called with (info, **args), which
keeps expensive or argument-taking fields lazy. A field missing from a dict is one the emulator does not
model: it fails with a clear "not emulated" error instead of returning invented data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLError, GraphQLResolveInfo, execute

from emulator import flow
from emulator.resolvers import app, bulk, customers, discounts, metafields, nodes, orders, segments, shop
from emulator.resolvers.common import RequestContext, access_denied, not_emulated
from emulator.schema import field_requirements, load_schema

Resolver = Callable[..., Any]

QUERY_RESOLVERS: dict[str, Resolver] = {
    "shop": shop.resolve_shop,
    "locations": shop.resolve_locations,
    "location": shop.resolve_location,
    "customer": customers.resolve_customer,
    "customers": customers.resolve_customers,
    "order": orders.resolve_order,
    "orders": orders.resolve_orders,
    "metafieldDefinitions": metafields.resolve_metafield_definitions,
    "segmentFilters": segments.resolve_segment_filters,
    "segments": segments.resolve_segments,
    "segment": segments.resolve_segment,
    "customerSegmentMembersQuery": segments.resolve_members_query,
    "customerSegmentMembers": segments.resolve_segment_members,
    "bulkOperation": bulk.resolve_bulk_operation,
    "currentBulkOperation": bulk.resolve_current_bulk_operation,
    "webhookSubscriptions": app.resolve_webhook_subscriptions,
    "currentAppInstallation": app.resolve_current_app_installation,
    "codeDiscountNodeByCode": discounts.resolve_code_discount_node_by_code,
    "node": nodes.resolve_node,
    "nodes": nodes.resolve_nodes,
}

MUTATION_RESOLVERS: dict[str, Resolver] = {
    "metafieldsSet": metafields.resolve_metafields_set,
    "metafieldsDelete": metafields.resolve_metafields_delete,
    "metafieldDefinitionCreate": metafields.resolve_metafield_definition_create,
    "tagsAdd": customers.resolve_tags_add,
    "tagsRemove": customers.resolve_tags_remove,
    "customerMerge": customers.resolve_customer_merge,
    "segmentCreate": segments.resolve_segment_create,
    "segmentUpdate": segments.resolve_segment_update,
    "segmentDelete": segments.resolve_segment_delete,
    "customerSegmentMembersQueryCreate": segments.resolve_members_query_create,
    "discountCodeBasicCreate": discounts.resolve_discount_code_basic_create,
    "discountCodeFreeShippingCreate": discounts.resolve_discount_code_free_shipping_create,
    "bulkOperationRunQuery": bulk.resolve_bulk_run_query,
    "bulkOperationCancel": bulk.resolve_bulk_cancel,
    "appUninstall": app.resolve_app_uninstall,
    "flowTriggerReceive": flow.resolve_flow_trigger_receive,
}


# Every list argument holds at most 250 items (https://shopify.dev/docs/api/usage/limits).
MAX_INPUT_ARRAY = 250


def _check_input_sizes(value: Any) -> None:
    """Shopify's MAX_INPUT_SIZE_EXCEEDED for any list input longer than 250, however deep."""
    if isinstance(value, list):
        if len(value) > MAX_INPUT_ARRAY:
            raise GraphQLError(
                f"The input array size of {len(value)} is greater than the maximum allowed of "
                f"{MAX_INPUT_ARRAY}.",
                extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
            )
        for item in value:
            _check_input_sizes(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_input_sizes(item)


class _Root:
    """The root value: marks root fields for dispatch."""


ROOT = _Root()


def field_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Check access scopes, then dispatch root fields or read the node dict."""
    ctx: RequestContext = info.context
    parent = info.parent_type.name
    name = info.field_name
    for req in field_requirements(parent, name):
        if req.alternatives.isdisjoint(ctx.granted):
            raise access_denied(name, req.required_access)
    if source is ROOT:
        table = MUTATION_RESOLVERS if parent == "Mutation" else QUERY_RESOLVERS
        fn = table.get(name)
        if fn is None:
            raise not_emulated(name)
        _check_input_sizes(args)
        return fn(ctx, info, **args)
    if isinstance(source, dict):
        if name not in source:
            raise not_emulated(f"{parent}.{name}")
        value = source[name]
        return value(info, **args) if callable(value) else value
    raise not_emulated(f"{parent}.{name}")


def type_resolver(value: Any, info: GraphQLResolveInfo, abstract_type: Any) -> str | None:
    """Interfaces and unions resolve through the node dict's `__typename`."""
    return value.get("__typename") if isinstance(value, dict) else None


def execute_document(
    ctx: RequestContext,
    doc: DocumentNode,
    operation_name: str | None,
    variables: dict | None,
) -> ExecutionResult:
    """Run a validated document against the shop in `ctx`."""
    result = execute(
        load_schema(),
        doc,
        root_value=ROOT,
        context_value=ctx,
        variable_values=variables,
        operation_name=operation_name,
        field_resolver=field_resolver,
        type_resolver=type_resolver,
    )
    assert not hasattr(result, "__await__"), "resolvers are synchronous"
    return result
