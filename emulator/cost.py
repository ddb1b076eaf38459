"""Calculated query cost and the per-shop leaky bucket of the GraphQL Admin API.

Rules from https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: scalars and enums cost 0,
objects 1, interfaces/unions the maximum of their possible selections, connections 2 plus the requested
page size times the cost of one item, mutations 10. The requested cost is charged before execution; after
execution the difference to the actual cost (what was really returned) is refunded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from graphql.utilities import value_from_ast_untyped

from emulator.schema import fragments_of, is_mutation, load_schema

MAXIMUM_AVAILABLE = 2000.0
SINGLE_QUERY_MAX_COST = 1000
MUTATION_COST = 10
CONNECTION_BASE_COST = 2
PLAN_RESTORE_RATES: dict[str, float] = {
    "standard": 100.0,
    "advanced": 200.0,
    "plus": 1000.0,
    "enterprise": 2000.0,
}


class LeakyBucket:
    """Points available to one app on one shop; refills continuously at `restore_rate` per second."""

    def __init__(
        self,
        maximum: float = MAXIMUM_AVAILABLE,
        restore_rate: float = 100.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self.clock = clock
        self._available = float(maximum)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._updated)
        self._available = min(self.maximum, self._available + elapsed * self.restore_rate)
        self._updated = now

    def try_take(self, cost: float) -> bool:
        """Take `cost` points if that many are available now; False (nothing taken) otherwise."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        """Give back points (requested minus actual cost), never above the maximum."""
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(0.0, points))

    def drain(self, points: float | None = None) -> None:
        """Remove points (all by default): used by fault injection to force THROTTLED responses."""
        with self._lock:
            self._refill()
            self._available = 0.0 if points is None else max(0.0, self._available - points)

    @property
    def available(self) -> float:
        """Points available now."""
        with self._lock:
            self._refill()
            return self._available

    def status(self) -> dict[str, float]:
        """`extensions.cost.throttleStatus`."""
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }


class _Coster:
    """Walks an operation's selections with the schema types, for requested or actual cost."""

    def __init__(self, doc: DocumentNode, variables: dict[str, Any] | None) -> None:
        self.schema = load_schema()
        self.fragments = fragments_of(doc)
        self.variables = variables or {}

    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def _fields(self, selection_set: SelectionSetNode | None, type_name: str | None = None):
        """Flatten fragments; yields (type condition or None, FieldNode)."""
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield type_name, sel
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else type_name
                yield from self._fields(sel.selection_set, cond)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    yield from self._fields(frag.selection_set, frag.type_condition.name.value)

    @staticmethod
    def is_connection(type_name: str) -> bool:
        return type_name.endswith("Connection")

    def page_size(self, node: FieldNode) -> int:
        """`first`/`last` of a connection field; Shopify charges 1 item when neither is given."""
        size = self._arg(node, "first") or self._arg(node, "last")
        return int(size) if isinstance(size, int) and size > 0 else 1

    # -- requested --------------------------------------------------------------------------------------
    def requested(self, parent: Any, selection_set: SelectionSetNode | None) -> int:
        """Cost of a selection set on `parent` (object/interface/union type)."""
        if isinstance(parent, GraphQLUnionType | GraphQLInterfaceType):
            # Interfaces and unions cost the maximum of their possible selections.
            possible = self.schema.get_possible_types(parent)
            return max((self._requested_on(t, selection_set) for t in possible), default=0)
        return self._requested_on(parent, selection_set)

    def _requested_on(self, obj: GraphQLObjectType, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for cond, node in self._fields(selection_set):
            if cond and cond != obj.name and not self._type_matches(obj, cond):
                continue
            fdef = obj.fields.get(node.name.value)
            if fdef is None:
                continue
            total += self.field_requested(fdef.type, node)
        return total

    def _type_matches(self, obj: GraphQLObjectType, cond: str) -> bool:
        abstract = self.schema.get_type(cond)
        if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.is_sub_type(abstract, obj)
        return False

    def field_requested(self, ftype: Any, node: FieldNode) -> int:
        named = get_named_type(ftype)
        if is_leaf_type(named):
            return 0
        if self.is_connection(named.name):
            return CONNECTION_BASE_COST + self.page_size(node) * self._connection_item_cost(named, node)
        per_item = 1 + self.requested(named, node.selection_set)
        return per_item * (self._list_size(node) if _is_list(ftype) else 1)

    def _connection_item_cost(self, conn: GraphQLObjectType, node: FieldNode) -> int:
        """Cost of one item: the node object plus its selections (edges/pageInfo themselves are free)."""
        best = 0
        for _cond, sub in self._fields(node.selection_set):
            name = sub.name.value
            if name == "edges":
                edge_type = get_named_type(conn.fields["edges"].type)
                for _c, edge_field in self._fields(sub.selection_set):
                    if edge_field.name.value == "node":
                        node_type = get_named_type(edge_type.fields["node"].type)
                        best = max(best, 1 + self.requested(node_type, edge_field.selection_set))
            elif name == "nodes":
                node_type = get_named_type(conn.fields["nodes"].type)
                best = max(best, 1 + self.requested(node_type, sub.selection_set))
        return best or 1

    def _list_size(self, node: FieldNode) -> int:
        size = self._arg(node, "first")
        if isinstance(size, int) and size > 0:
            return size
        ids = self._arg(node, "ids")
        return len(ids) if isinstance(ids, list) and ids else 1

    # -- actual -------------------------------------------------------------------------------------------
    def actual(self, parent: Any, selection_set: SelectionSetNode | None, value: Any) -> int:
        """Cost of what was actually returned for a selection set."""
        if not isinstance(value, dict):
            return 0
        obj = parent
        if isinstance(parent, GraphQLUnionType | GraphQLInterfaceType):
            typename = value.get("__typename")
            concrete = self.schema.get_type(typename) if typename else None
            if concrete is None:
                return self.requested(parent, selection_set)
            obj = concrete
        total = 0
        for cond, node in self._fields(selection_set):
            if cond and cond != obj.name and not self._type_matches(obj, cond):
                continue
            fdef = obj.fields.get(node.name.value)
            key = node.alias.value if node.alias else node.name.value
            if fdef is None or key not in value:
                continue
            total += self.field_actual(fdef.type, node, value[key])
        return total

    def field_actual(self, ftype: Any, node: FieldNode, value: Any) -> int:
        named = get_named_type(ftype)
        if is_leaf_type(named) or value is None:
            return 0
        if self.is_connection(named.name):
            return CONNECTION_BASE_COST + self._connection_actual(named, node, value)
        if isinstance(value, list):
            return sum(1 + self.actual(named, node.selection_set, v) for v in value if v is not None)
        return 1 + self.actual(named, node.selection_set, value)

    def _connection_actual(self, conn: GraphQLObjectType, node: FieldNode, value: dict) -> int:
        best = 0
        for _cond, sub in self._fields(node.selection_set):
            key = sub.alias.value if sub.alias else sub.name.value
            items = value.get(key)
            if sub.name.value == "edges" and isinstance(items, list):
                edge_type = get_named_type(conn.fields["edges"].type)
                cost = 0
                for edge in items:
                    for _c, edge_field in self._fields(sub.selection_set):
                        if edge_field.name.value == "node" and isinstance(edge, dict):
                            ekey = edge_field.alias.value if edge_field.alias else "node"
                            node_type = get_named_type(edge_type.fields["node"].type)
                            cost += 1 + self.actual(node_type, edge_field.selection_set, edge.get(ekey))
                best = max(best, cost)
            elif sub.name.value == "nodes" and isinstance(items, list):
                node_type = get_named_type(conn.fields["nodes"].type)
                best = max(best, sum(1 + self.actual(node_type, sub.selection_set, v) for v in items))
        return best


def _is_list(ftype: Any) -> bool:
    inner = ftype.of_type if isinstance(ftype, GraphQLNonNull) else ftype
    return isinstance(inner, GraphQLList)


def _root(op: OperationDefinitionNode):
    schema = load_schema()
    return schema.mutation_type if is_mutation(op) else schema.query_type


def _with_defaults(op: OperationDefinitionNode, variables: dict | None) -> dict:
    """Variables as sent, plus the operation's declared defaults for ones left out."""
    out = dict(variables or {})
    for definition in op.variable_definitions or ():
        name = definition.variable.name.value
        if name not in out and definition.default_value is not None:
            out[name] = value_from_ast_untyped(definition.default_value)
    return out


def requested_cost(doc: DocumentNode, op: OperationDefinitionNode, variables: dict | None = None) -> int:
    """The cost Shopify computes before executing an operation."""
    coster = _Coster(doc, _with_defaults(op, variables))
    if is_mutation(op):
        return sum(MUTATION_COST for _c, _n in coster._fields(op.selection_set))
    return coster.requested(_root(op), op.selection_set)


def actual_cost(
    doc: DocumentNode, op: OperationDefinitionNode, variables: dict | None, data: dict | None
) -> int:
    """The cost of what an executed operation returned."""
    coster = _Coster(doc, _with_defaults(op, variables))
    if is_mutation(op):
        return sum(MUTATION_COST for _c, _n in coster._fields(op.selection_set))
    return coster.actual(_root(op), op.selection_set, data or {})


def cost_extension(requested: int, actual: int | None, bucket: LeakyBucket) -> dict:
    """`extensions.cost` as every Admin GraphQL response carries it."""
    return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": bucket.status()}
