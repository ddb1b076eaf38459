"""Customer segments: segmentFilters, segmentCreate/Update/Delete, segments, members queries and members."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from emulator.resolvers.common import RequestContext, money, paginate, require_gid
from emulator.segment_query import SegmentQueryError, available_filters, compile_segment_query, members
from emulator.state import gid

_FILTER_TYPENAMES = {
    "tags": "SegmentAssociationFilter",
    "number": "SegmentFloatFilter",
    "integer": "SegmentIntegerFilter",
    "date": "SegmentDateFilter",
    "text": "SegmentStringFilter",
    "boolean": "SegmentBooleanFilter",
}


def segment_node(seg: dict) -> dict:
    """A Segment object."""
    return {
        "__typename": "Segment",
        "id": gid("Segment", seg["id"]),
        "name": seg["name"],
        "query": seg["query"],
        "creationDate": seg["creation_date"],
        "lastEditDate": seg["last_edit_date"],
    }


def resolve_segment_filters(ctx: RequestContext, info, **args: Any) -> dict:
    """`segmentFilters`: what a segment query may filter on, including the app's metafields."""
    filters = available_filters(ctx.shop)
    return paginate(
        ctx,
        list(enumerate(filters)),
        args,
        lambda pair: pair[0],
        lambda pair: {
            "__typename": _FILTER_TYPENAMES[pair[1].kind],
            "queryName": pair[1].name,
            "localizedName": pair[1].localized,
            "multiValue": pair[1].multi,
        },
    )


def _query_error(exc: SegmentQueryError) -> dict:
    return {"field": ["query"], "message": f"Query {exc}"}


def resolve_segment_create(ctx: RequestContext, info, name: str, query: str) -> dict:
    """`segmentCreate`: the query must parse and the name must be unique."""
    shop = ctx.shop
    errors = []
    if not name.strip():
        errors.append({"field": ["name"], "message": "Name can't be blank"})
    elif any(s["name"] == name for s in shop.segments_by_id.values()):
        errors.append({"field": ["name"], "message": "Name has already been taken"})
    try:
        compile_segment_query(query, shop)
    except SegmentQueryError as exc:
        errors.append(_query_error(exc))
    if errors:
        return {"segment": None, "userErrors": errors}
    sid = shop.next_id("Segment")
    now = shop.now_iso()
    seg = {"id": sid, "name": name, "query": query, "creation_date": now, "last_edit_date": now}
    shop.segments_by_id[sid] = seg
    return {"segment": segment_node(seg), "userErrors": []}


def _segment(ctx: RequestContext, value: str) -> dict | None:
    sid = require_gid(value, "Segment")
    return ctx.shop.segments_by_id.get(sid) if sid is not None else None


def resolve_segment_update(
    ctx: RequestContext, info, id: str, name: str | None = None, query: str | None = None
) -> dict:
    """`segmentUpdate`."""
    seg = _segment(ctx, id)
    if seg is None:
        return {"segment": None, "userErrors": [{"field": ["id"], "message": "Segment does not exist"}]}
    if query is not None:
        try:
            compile_segment_query(query, ctx.shop)
        except SegmentQueryError as exc:
            return {"segment": None, "userErrors": [_query_error(exc)]}
        seg["query"] = query
    if name is not None:
        seg["name"] = name
    seg["last_edit_date"] = ctx.shop.now_iso()
    return {"segment": segment_node(seg), "userErrors": []}


def resolve_segment_delete(ctx: RequestContext, info, id: str) -> dict:
    """`segmentDelete`."""
    seg = _segment(ctx, id)
    if seg is None:
        return {
            "deletedSegmentId": None,
            "userErrors": [{"field": ["id"], "message": "Segment does not exist"}],
        }
    del ctx.shop.segments_by_id[seg["id"]]
    return {"deletedSegmentId": gid("Segment", seg["id"]), "userErrors": []}


def resolve_segment(ctx: RequestContext, info, id: str) -> dict | None:
    """`segment(id:)`."""
    seg = _segment(ctx, id)
    return segment_node(seg) if seg else None


def resolve_segments(ctx: RequestContext, info, **args: Any) -> dict:
    """`segments(first/after/query)` (query matches the name, as the admin search does)."""
    records = list(ctx.shop.segments_by_id.values())
    if args.get("query"):
        needle = args["query"].split(":", 1)[-1].strip("'\" ").lower()
        records = [s for s in records if needle in s["name"].lower()]
    sort = args.get("sortKey") or "CREATION_DATE"
    key = {
        "NAME": lambda s: [s["name"].lower(), s["id"]],
        "LAST_EDIT_DATE": lambda s: [s["last_edit_date"], s["id"]],
    }
    return paginate(ctx, records, args, key.get(sort, lambda s: [s["id"]]), segment_node)


# customerSegmentMembers pages hold up to 1000 members (not the usual 250).
MEMBERS_MAX_PAGE = 1000


def _members_query_node(q: dict, done: bool = True) -> dict:
    return {
        "__typename": "CustomerSegmentMembersQuery",
        "id": gid("CustomerSegmentMembersQuery", q["id"]),
        "currentCount": len(q["members"]),
        "done": done,
    }


def resolve_members_query_create(ctx: RequestContext, info, input: dict) -> dict:
    """`customerSegmentMembersQueryCreate`: an asynchronous job on Shopify.

    The emulator evaluates at once, but like Shopify answers `done: false` here, so callers must poll
    `customerSegmentMembersQuery(id)` (which then reads `done: true`).
    """
    shop = ctx.shop
    query = input.get("query")
    if input.get("segmentId"):
        seg = _segment(ctx, input["segmentId"])
        if seg is None:
            return {
                "customerSegmentMembersQuery": None,
                "userErrors": [
                    {"field": ["input", "segmentId"], "message": "Segment does not exist", "code": "INVALID"}
                ],
            }
        query = seg["query"]
    if not query:
        return {
            "customerSegmentMembersQuery": None,
            "userErrors": [
                {"field": ["input"], "message": "Query or segment id is required", "code": "INVALID"}
            ],
        }
    try:
        predicate = compile_segment_query(query, shop)
    except SegmentQueryError as exc:
        return {
            "customerSegmentMembersQuery": None,
            "userErrors": [{"field": ["input", "query"], "message": f"Query {exc}", "code": "INVALID"}],
        }
    qid = shop.next_id("CustomerSegmentMembersQuery")
    record = {"id": qid, "query": query, "members": members(shop, predicate)}
    shop.member_queries[qid] = record
    return {"customerSegmentMembersQuery": _members_query_node(record, done=False), "userErrors": []}


def resolve_members_query(ctx: RequestContext, info, id: str) -> dict | None:
    """`customerSegmentMembersQuery(id:)`."""
    qid = require_gid(id, "CustomerSegmentMembersQuery")
    record = ctx.shop.member_queries.get(qid) if qid is not None else None
    return _members_query_node(record) if record else None


def member_node(ctx: RequestContext, cid: int) -> dict:
    """A CustomerSegmentMember."""
    from emulator.resolvers import metafields as mf

    shop = ctx.shop
    cust = shop.customers[cid]
    owner = gid("Customer", cid)
    stats = shop.customer_stats(cid)
    name = " ".join(p for p in (cust.get("first_name"), cust.get("last_name")) if p)
    return {
        "__typename": "CustomerSegmentMember",
        "id": gid("CustomerSegmentMember", cid),
        "firstName": cust.get("first_name"),
        "lastName": cust.get("last_name"),
        "displayName": name or cust.get("email") or cust.get("phone") or "",
        "note": cust.get("note"),
        "amountSpent": money(stats["amount_spent"], shop.currency),
        "numberOfOrders": str(stats["orders_count"]),
        "lastOrderId": gid("Order", stats["last_order_id"]) if stats["last_order_id"] else None,
        "defaultEmailAddress": {"emailAddress": cust["email"]} if cust.get("email") else None,
        "defaultPhoneNumber": {"phoneNumber": cust["phone"]} if cust.get("phone") else None,
        "metafield": lambda _info, key, namespace=None: mf.metafield_for(ctx, owner, namespace, key),
        "metafields": lambda _info, **args: mf.metafields_connection(ctx, owner, args),
    }


def resolve_segment_members(ctx: RequestContext, info, **args: Any) -> dict:
    """`customerSegmentMembers(query | segmentId | queryId, first, after)`."""
    shop = ctx.shop
    given = [k for k in ("query", "segmentId", "queryId") if args.get(k)]
    if len(given) != 1:
        raise GraphQLError("Exactly one of query, segmentId or queryId must be provided.")
    if args.get("queryId"):
        qid = require_gid(args["queryId"], "CustomerSegmentMembersQuery")
        record = shop.member_queries.get(qid) if qid is not None else None
        if record is None:
            raise GraphQLError("Invalid query id.")
        ids = [i for i in record["members"] if i in shop.customers]
    else:
        query = args.get("query")
        if args.get("segmentId"):
            seg = _segment(ctx, args["segmentId"])
            if seg is None:
                raise GraphQLError("Segment does not exist.")
            query = seg["query"]
        # A saved segment evaluates in the shop's time zone; an ad-hoc query in `timezone` (default UTC).
        timezone = None if args.get("segmentId") else (args.get("timezone") or "UTC")
        try:
            ids = members(shop, compile_segment_query(query, shop, timezone))
        except SegmentQueryError as exc:
            raise GraphQLError(f"Query {exc}") from exc
    conn = paginate(ctx, ids, args, lambda cid: cid, lambda cid: member_node(ctx, cid), MEMBERS_MAX_PAGE)
    conn["totalCount"] = len(ids)
    return conn
