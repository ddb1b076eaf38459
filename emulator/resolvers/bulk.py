"""Bulk query operations: run a query over all of state and write Shopify's JSONL result.

https://shopify.dev/docs/api/usage/bulk-operations/queries: 1 to 5 connections, at most 2 levels deep;
each node of a connection is a line, nested connection nodes are their own lines carrying `__parentId`
(the parent's `id`) and come after their parent; `edges`/`node` wrappers are dropped.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import FieldNode, GraphQLError, InlineFragmentNode, get_named_type, is_leaf_type

from emulator.resolvers.common import RequestContext, require_gid
from emulator.schema import fragments_of, load_schema, operation_for, parse_document, validate
from emulator.state import gid

MAX_CONNECTIONS = 5
MAX_DEPTH = 2


def operation_node(ctx: RequestContext, op: dict, status: str | None = None) -> dict:
    """A BulkOperation object (status may be overridden for the mutation's snapshot)."""
    return {
        "__typename": "BulkOperation",
        "id": gid("BulkOperation", op["id"]),
        "status": status or op["status"],
        "type": "QUERY",
        "query": op["query"],
        "createdAt": op["created_at"],
        "completedAt": op["completed_at"] if status is None else None,
        "errorCode": op["error_code"] if status is None else None,
        "objectCount": str(op["object_count"] if status is None else 0),
        "rootObjectCount": str(op["root_object_count"] if status is None else 0),
        "fileSize": str(op["file_size"]) if status is None and op["file_size"] is not None else None,
        "url": op["url"] if status is None else None,
        "partialDataUrl": None,
    }


class _Flattener:
    """Turns an executed bulk query result into Shopify's JSONL lines."""

    def __init__(self, doc) -> None:
        self.schema = load_schema()
        self.fragments = fragments_of(doc)
        self.lines: list[dict] = []
        self.roots = 0

    def fields(self, selection_set):
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                yield sel
            elif isinstance(sel, InlineFragmentNode):
                yield from self.fields(sel.selection_set)
            else:
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    yield from self.fields(frag.selection_set)

    @staticmethod
    def key(node: FieldNode) -> str:
        return node.alias.value if node.alias else node.name.value

    def connection_nodes(self, conn_type, node: FieldNode, value: dict):
        """(node type, node selection, node values) of a connection result."""
        for sub in self.fields(node.selection_set):
            items = value.get(self.key(sub)) or []
            if sub.name.value == "edges":
                edge_type = get_named_type(conn_type.fields["edges"].type)
                for inner in self.fields(sub.selection_set):
                    if inner.name.value == "node":
                        node_type = get_named_type(edge_type.fields["node"].type)
                        return node_type, inner, [e.get(self.key(inner)) for e in items]
            if sub.name.value == "nodes":
                return get_named_type(conn_type.fields["nodes"].type), sub, items
        return None, None, []

    def flatten(self, obj_type, selection: FieldNode, value: dict, parent_id: str | None) -> None:
        line: dict[str, Any] = {}
        children: list[tuple[Any, FieldNode, list]] = []
        for sub in self.fields(selection.selection_set):
            fdef = getattr(obj_type, "fields", {}).get(sub.name.value)
            k = self.key(sub)
            if k not in value:
                continue
            named = get_named_type(fdef.type) if fdef else None
            if named is not None and not is_leaf_type(named) and named.name.endswith("Connection"):
                if value[k] is not None:
                    children.append(self.connection_nodes(named, sub, value[k]))
                continue
            line[k] = value[k]
        if parent_id is not None:
            line["__parentId"] = parent_id
        self.lines.append(line)
        for child_type, child_sel, items in children:
            for item in items:
                if item is not None:
                    self.flatten(child_type, child_sel, item, value.get("id"))


def _shape_errors(doc, op) -> list[str]:
    """Shopify's structural limits on bulk queries."""
    schema = load_schema()
    fragments = fragments_of(doc)
    count = 0
    deepest = 0
    missing_ids: list[str] = []

    def names(selection_set) -> set[str]:
        out: set[str] = set()
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                out.add(sel.name.value)
            else:
                inner = (
                    sel.selection_set
                    if isinstance(sel, InlineFragmentNode)
                    else fragments[sel.name.value].selection_set
                )
                out |= names(inner)
        return out

    def walk(parent_type, selection_set, depth: int) -> None:
        nonlocal count, deepest
        for sel in selection_set.selections if selection_set else ():
            if not isinstance(sel, FieldNode):
                inner = (
                    sel.selection_set
                    if isinstance(sel, InlineFragmentNode)
                    else fragments[sel.name.value].selection_set
                )
                walk(parent_type, inner, depth)
                continue
            fdef = getattr(parent_type, "fields", {}).get(sel.name.value)
            if fdef is None:
                continue
            named = get_named_type(fdef.type)
            level = depth
            if named.name.endswith("Connection"):
                count += 1
                level = depth + 1
                deepest = max(deepest, level)
                # JSONL children point at their parent through __parentId, so the parent must select id.
                if depth > 0 and "id" not in names(selection_set):
                    missing_ids.append(sel.name.value)
            walk(named, sel.selection_set, level)

    walk(schema.query_type, op.selection_set, 0)
    errors = []
    if count == 0:
        errors.append("Bulk queries must contain at least one connection.")
    if count > MAX_CONNECTIONS:
        errors.append(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
    if deepest > MAX_DEPTH:
        errors.append(
            f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
        )
    if missing_ids:
        errors.append(
            "The parent 'node' field for a nested connection must select the 'id' field. "
            f"Connection fields without 'id': {', '.join(missing_ids)}."
        )
    return errors


def _user_error(message: str) -> dict:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"], "message": message, "code": "INVALID"}],
    }


def resolve_bulk_run_query(ctx: RequestContext, info, query: str, groupObjects: bool = False) -> dict:
    """`bulkOperationRunQuery`: validates, runs over all of state, stores the JSONL, emits the webhook."""
    from emulator.resolvers.dispatch import execute_document

    shop = ctx.shop
    errors = validate(query)
    if errors:
        return _user_error(errors[0].message)
    doc = parse_document(query)
    op = operation_for(doc, None)
    if op is None or op.operation.value != "query":
        return _user_error("Bulk operations only support queries.")
    shape = _shape_errors(doc, op)
    if shape:
        return _user_error(shape[0])
    bulk_ctx = RequestContext(state=ctx.state, shop=shop, granted=ctx.granted, bulk=True)
    result = execute_document(bulk_ctx, doc, None, {})
    now = shop.now_iso()
    bid = shop.next_id("BulkOperation")
    record: dict[str, Any] = {
        "id": bid,
        "query": query,
        "created_at": now,
        "completed_at": now,
        "status": "COMPLETED",
        "error_code": None,
        "object_count": 0,
        "root_object_count": 0,
        "file_size": None,
        "url": None,
    }
    if result.errors:
        denied = any((e.extensions or {}).get("code") == "ACCESS_DENIED" for e in result.errors)
        record.update(status="FAILED", error_code="ACCESS_DENIED" if denied else "INTERNAL_SERVER_ERROR")
    else:
        flat = _Flattener(doc)
        root_lines = 0
        for field in flat.fields(op.selection_set):
            fdef = load_schema().query_type.fields[field.name.value]
            named = get_named_type(fdef.type)
            value = (result.data or {}).get(flat.key(field))
            if value is None:
                continue
            if named.name.endswith("Connection"):
                node_type, sel, items = flat.connection_nodes(named, field, value)
                for item in items:
                    if item is not None:
                        root_lines += 1
                        flat.flatten(node_type, sel, item, None)
            else:
                root_lines += 1
                flat.flatten(named, field, value, None)
        body = "".join(
            json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in flat.lines
        )
        shop.bulk_results[bid] = body
        record.update(
            object_count=len(flat.lines),
            root_object_count=root_lines,
            file_size=len(body.encode()),
            url=f"https://{shop.domain}/_emulator/bulk/{bid}.jsonl" if flat.lines else None,
        )
    shop.bulk_operations[bid] = record
    ctx.emit_later(
        "bulk_operations/finish",
        {
            "admin_graphql_api_id": gid("BulkOperation", bid),
            "completed_at": record["completed_at"],
            "created_at": record["created_at"],
            "error_code": record["error_code"].lower() if record["error_code"] else None,
            "status": record["status"].lower(),
            "type": "query",
        },
    )
    return {"bulkOperation": operation_node(ctx, record, status="CREATED"), "userErrors": []}


def resolve_bulk_operation(ctx: RequestContext, info, id: str) -> dict | None:
    """`bulkOperation(id:)`."""
    bid = require_gid(id, "BulkOperation")
    op = ctx.shop.bulk_operations.get(bid) if bid is not None else None
    return operation_node(ctx, op) if op else None


def resolve_current_bulk_operation(ctx: RequestContext, info, type: str = "QUERY") -> dict | None:
    """`currentBulkOperation(type:)`: the most recent one of that type."""
    if type != "QUERY":
        return None
    ops = ctx.shop.bulk_operations
    return operation_node(ctx, ops[max(ops)]) if ops else None


def resolve_bulk_cancel(ctx: RequestContext, info, id: str) -> dict:
    """`bulkOperationCancel`: emulated operations finish at once, so there is nothing left to cancel."""
    bid = require_gid(id, "BulkOperation")
    op = ctx.shop.bulk_operations.get(bid) if bid is not None else None
    if op is None:
        raise GraphQLError(f"Invalid id: {id}")
    return {
        "bulkOperation": operation_node(ctx, op),
        "userErrors": [
            {
                "field": None,
                "message": "A bulk operation cannot be canceled when it is completed",
                "code": None,
            }
        ],
    }
