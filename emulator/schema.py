"""Shopify's published Admin schema (2026-07): loading, cached validation and access-scope lookup."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    Visitor,
    build_client_schema,
    get_named_type,
    parse,
    visit,
)
from graphql import (
    validate as graphql_validate,
)
from graphql.utilities import TypeInfoVisitor

API_VERSION = "2026-07"
# Shopify's published Admin API schema for 2026-07 (introspection result), vendored: see data/README.md.
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "admin-2026-07.introspection.json.gz"


@lru_cache(maxsize=1)
def _raw() -> dict:
    """The decoded schema file (introspection result plus offline_scopes.items)."""
    with gzip.open(SCHEMA_PATH, "rt", encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    """Build the client schema once per process (about 0.7 s)."""
    return build_client_schema(_raw()["data"])


def __getattr__(name: str) -> GraphQLSchema:
    """`SCHEMA` is built on first access (PEP 562), so importing this module stays cheap."""
    if name == "SCHEMA":
        return load_schema()
    raise AttributeError(name)


@dataclass(frozen=True)
class ScopeRequirement:
    """Any one of `alternatives` grants access to `coordinate` (`Type` or `Type.field`)."""

    coordinate: str
    alternatives: frozenset[str]
    required_access: str


@lru_cache(maxsize=1)
def _scope_items() -> tuple[dict[str, ScopeRequirement], dict[tuple[str, str], ScopeRequirement]]:
    """Index offline_scopes.items by type name and by (type, field)."""
    by_type: dict[str, ScopeRequirement] = {}
    by_field: dict[tuple[str, str], ScopeRequirement] = {}
    for item in _raw()["offline_scopes"]["items"]:
        scopes = item.get("offlineScopes") or []
        if not scopes:
            continue
        if item["type"] == "type":
            req = ScopeRequirement(item["typeName"], frozenset(scopes), item.get("requiredAccess", ""))
            by_type[item["typeName"]] = req
        else:
            coord = f"{item['typeName']}.{item['fieldName']}"
            req = ScopeRequirement(coord, frozenset(scopes), item.get("requiredAccess", ""))
            by_field[(item["typeName"], item["fieldName"])] = req
    return by_type, by_field


def _node_type_name(type_name: str) -> str | None:
    """For `FooConnection`/`FooEdge` types, the node type they wrap (scopes live on the node type)."""
    schema = load_schema()
    gtype = schema.get_type(type_name)
    fields = getattr(gtype, "fields", None) or {}
    if type_name.endswith("Connection") and "edges" in fields:
        edge = get_named_type(fields["edges"].type)
        return get_named_type(edge.fields["node"].type).name
    if type_name.endswith("Edge") and "node" in fields:
        return get_named_type(fields["node"].type).name
    return None


# Mutations whose scope depends on the owner resource (offline_scopes.items lists none for them): writing
# a Customer's metafields or tags needs write_customers. The emulator models customer owners only, so
# that is the requirement it enforces (in the resolvers) and reports here.
OWNER_SCOPED_MUTATIONS: dict[str, ScopeRequirement] = {
    name: ScopeRequirement(
        f"Mutation.{name}", frozenset({"write_customers"}), "`write_customers` access scope."
    )
    for name in ("metafieldsSet", "metafieldsDelete", "tagsAdd", "tagsRemove")
}


@cache
def field_requirements(parent_type: str, field_name: str) -> tuple[ScopeRequirement, ...]:
    """Scope requirements for selecting `parent_type.field_name`: the field's own and its returned type's."""
    by_type, by_field = _scope_items()
    reqs: list[ScopeRequirement] = []
    if (parent_type, field_name) in by_field:
        reqs.append(by_field[(parent_type, field_name)])
    parent = load_schema().get_type(parent_type)
    fdef = getattr(parent, "fields", {}).get(field_name) if parent is not None else None
    if fdef is not None:
        named = get_named_type(fdef.type).name
        for name in (named, _node_type_name(named)):
            if name and name in by_type:
                reqs.append(by_type[name])
    return tuple(reqs)


def implied_scopes(granted: Iterable[str]) -> frozenset[str]:
    """Shopify grants read_X with write_X (https://shopify.dev/docs/api/usage/access-scopes)."""
    out = set(granted)
    for scope in list(out):
        if scope.startswith("write_"):
            out.add("read_" + scope[len("write_") :])
        if scope.startswith("unauthenticated_write_"):
            out.add("unauthenticated_read_" + scope[len("unauthenticated_write_") :])
    return frozenset(out)


def is_satisfied(req: ScopeRequirement, granted: frozenset[str]) -> bool:
    """Whether an (already implied-expanded) scope set grants `req`."""
    return not req.alternatives.isdisjoint(granted)


@lru_cache(maxsize=512)
def parse_document(document: str) -> DocumentNode:
    """Parse once per distinct document text (benchmarks repeat the same documents thousands of times)."""
    return parse(document)


@lru_cache(maxsize=512)
def _validate_cached(document: str) -> tuple[GraphQLError, ...]:
    try:
        doc = parse_document(document)
    except GraphQLError as exc:
        return (exc,)
    return tuple(graphql_validate(load_schema(), doc))


def validate(document: str) -> list[GraphQLError]:
    """Syntax and schema errors of `document` against the 2026-07 Admin schema (cached by text)."""
    return list(_validate_cached(document))


class _TouchedFields(Visitor):
    """Collect (parent type, field) for every field selection in a document."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.touched: set[tuple[str, str]] = set()

    def enter_field(self, node: FieldNode, *_args) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None and not node.name.value.startswith("__"):
            self.touched.add((parent.name, node.name.value))


def touched_fields(document: str) -> set[tuple[str, str]]:
    """Every (parent type, field name) pair a valid document selects, fragments included."""
    doc = parse_document(document)
    type_info = TypeInfo(load_schema())
    collector = _TouchedFields(type_info)
    visit(doc, TypeInfoVisitor(type_info, collector))
    return collector.touched


def scope_requirements(document: str) -> list[ScopeRequirement]:
    """Every distinct scope requirement the document's selections carry."""
    seen: dict[str, ScopeRequirement] = {}
    for parent, field in sorted(touched_fields(document)):
        reqs = field_requirements(parent, field)
        if parent == "Mutation" and field in OWNER_SCOPED_MUTATIONS:
            reqs = (*reqs, OWNER_SCOPED_MUTATIONS[field])
        for req in reqs:
            seen.setdefault(req.coordinate, req)
    return list(seen.values())


def required_scopes(document: str) -> set[str]:
    """The scopes a document needs, taking the first-listed alternative of each requirement.

    Shopify lists the primary scope first (e.g. `read_orders` before `read_marketplace_orders`).
    Mutations carry `write_` scopes; since write implies read, a read requirement already covered
    by a chosen write scope is dropped.
    """
    chosen: set[str] = set()
    for req in scope_requirements(document):
        chosen.add(min(req.alternatives, key=lambda s, r=req: (_first_index(r, s), s)))
    return {s for s in chosen if not (s.startswith("read_") and "write_" + s[5:] in chosen)}


def _first_index(req: ScopeRequirement, scope: str) -> int:
    """Position of `scope` in the requiredAccess text (the order Shopify lists them)."""
    pos = req.required_access.find(f"`{scope}`")
    return pos if pos >= 0 else 10_000


def operation_for(doc: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation `operation_name` selects (or the only one), None if ambiguous/missing."""
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((o for o in ops if o.name and o.name.value == operation_name), None)
    return ops[0] if len(ops) == 1 else None


def fragments_of(doc: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """Fragment definitions by name."""
    return {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}


def is_mutation(op: OperationDefinitionNode) -> bool:
    """Whether the operation is a mutation."""
    return op.operation == OperationType.MUTATION


__all__ = [
    "API_VERSION",
    "ScopeRequirement",
    "field_requirements",
    "fragments_of",
    "implied_scopes",
    "is_mutation",
    "is_satisfied",
    "load_schema",
    "operation_for",
    "parse_document",
    "required_scopes",
    "scope_requirements",
    "touched_fields",
    "validate",
]
