"""`node(id:)` and `nodes(ids:)` for the object kinds the emulator models."""

from __future__ import annotations

from emulator.resolvers.common import RequestContext, invalid_id, not_emulated
from emulator.state import gid_parts


def _node(ctx: RequestContext, value: str) -> dict | None:
    from emulator.resolvers import bulk, customers, orders, segments, shop

    parts = gid_parts(value)
    if parts is None:
        raise invalid_id(value)
    kind, num = parts
    state = ctx.shop
    if kind == "Customer":
        rec = state.customers.get(num)
        return customers.customer_node(ctx, rec) if rec else None
    if kind == "Order":
        rec = state.orders.get(num)
        return orders.order_node(ctx, rec) if rec and orders.visible(ctx, rec) else None
    if kind == "Location":
        rec = state.locations.get(num)
        return shop.location_node(ctx, rec) if rec else None
    if kind == "Segment":
        rec = state.segments_by_id.get(num)
        return segments.segment_node(rec) if rec else None
    if kind == "BulkOperation":
        rec = state.bulk_operations.get(num)
        return bulk.operation_node(ctx, rec) if rec else None
    raise not_emulated(f"node(id:) for {kind}")


def resolve_node(ctx: RequestContext, info, id: str) -> dict | None:
    """`node(id:)`."""
    return _node(ctx, id)


def resolve_nodes(ctx: RequestContext, info, ids: list[str]) -> list[dict | None]:
    """`nodes(ids:)`: null for ids that match nothing, in the order asked."""
    return [_node(ctx, value) for value in ids]
