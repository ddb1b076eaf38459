"""Metafield reads, metafieldsSet (limits, type checks, compareDigest) and metafieldDefinitions.

https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet: at most 25 metafields a call,
atomic (nothing is written when any input fails), compare-and-set through `compareDigest`.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from emulator.resolvers.common import RequestContext, access_denied, not_emulated, paginate
from emulator.resolvers.metafield_types import (
    KNOWN_TYPES,
    MetafieldDefinitionSpec,
    admin_readable,
    json_value,
    value_error,
)
from emulator.state import gid, gid_parts

MAX_METAFIELDS_PER_CALL = 25
STALE_DIGEST_MESSAGE = (
    "The resource has been updated since it was loaded. Try again with an updated `compareDigest` value."
)
OWNER_TYPES = {"Customer": "CUSTOMER", "Order": "ORDER", "Shop": "SHOP", "Location": "LOCATION"}


def definition_id(ctx: RequestContext, key: str, namespace: str | None = None) -> int:
    """Stable ids: the TOML-declared definitions by their order in the file, created ones after them."""
    if namespace is None or namespace == ctx.shop.app_namespace:
        return list(ctx.shop.config.definitions).index(key) + 1
    return 1000 + list(ctx.shop.created_definitions).index((namespace, key))


def definition_node(ctx: RequestContext, spec: MetafieldDefinitionSpec, namespace: str | None = None) -> dict:
    """A MetafieldDefinition (shopify.app.toml's, or one made by metafieldDefinitionCreate)."""
    namespace = namespace or ctx.shop.app_namespace
    category = {
        "number_integer": "NUMBER",
        "number_decimal": "NUMBER",
        "date": "DATE_TIME",
        "boolean": "TRUE_FALSE",
    }
    # Merchant-owned definitions are read and written by the merchant and every installed app
    # (https://shopify.dev/docs/apps/build/custom-data/metafields/definitions/use-access-controls-metafields).
    admin = (spec.admin_access or "public_read_write").upper()
    return {
        "__typename": "MetafieldDefinition",
        "id": gid("MetafieldDefinition", definition_id(ctx, spec.key, namespace)),
        "name": spec.name,
        "namespace": namespace,
        "key": spec.key,
        "description": spec.description,
        "ownerType": "CUSTOMER",
        "type": {"name": spec.type, "category": category.get(spec.type, "TEXT")},
        "access": {"admin": admin},
        "pinnedPosition": None,
        "validations": [],
        "useAsCollectionCondition": False,
    }


def _definition_for(
    ctx: RequestContext, owner: str, namespace: str, key: str
) -> MetafieldDefinitionSpec | None:
    parts = gid_parts(owner)
    if parts and parts[0] == "Customer":
        return ctx.shop.definition(namespace, key)
    return None


def _readable(ctx: RequestContext, rec: dict) -> bool:
    """MetafieldAdminAccess: another app's merchant_read metafields are invisible to this app."""
    spec = ctx.shop.definition(rec["namespace"], rec["key"])
    return admin_readable(ctx.shop.app_namespace, rec["namespace"], spec)


def metafield_node(ctx: RequestContext, rec: dict) -> dict:
    """A Metafield object over a stored record."""
    owner = rec["owner"]
    kind = (gid_parts(owner) or ("Customer", 0))[0]
    spec = _definition_for(ctx, owner, rec["namespace"], rec["key"])

    def owner_node(_info):
        from emulator.resolvers.customers import customer_node

        parts = gid_parts(owner)
        if parts and parts[0] == "Customer" and parts[1] in ctx.shop.customers:
            return customer_node(ctx, ctx.shop.customers[parts[1]])
        raise not_emulated(f"Metafield.owner of {kind}")

    return {
        "__typename": "Metafield",
        "id": gid("Metafield", rec["id"]),
        "legacyResourceId": str(rec["id"]),
        "namespace": rec["namespace"],
        "key": rec["key"],
        "type": rec["type"],
        "value": rec["value"],
        "jsonValue": lambda _info: json_value(rec["type"], rec["value"]),
        "compareDigest": rec["digest"],
        "createdAt": rec["created_at"],
        "updatedAt": rec["updated_at"],
        "ownerType": OWNER_TYPES.get(kind, kind.upper()),
        "owner": owner_node,
        "definition": definition_node(ctx, spec, rec["namespace"]) if spec else None,
        "sizeInBytes": len(rec["value"].encode()),
    }


def metafield_for(ctx: RequestContext, owner: str, namespace: str | None, key: str) -> dict | None:
    """`<owner>.metafield(namespace, key)`; an omitted namespace means the app's own."""
    rec = ctx.shop.metafield(owner, ctx.shop.resolve_namespace(namespace), key)
    return metafield_node(ctx, rec) if rec and _readable(ctx, rec) else None


def metafields_connection(ctx: RequestContext, owner: str, args: dict) -> dict:
    """`<owner>.metafields(first, namespace, keys)`."""
    records = [r for r in ctx.shop.metafields.get(owner, {}).values() if _readable(ctx, r)]
    if args.get("namespace") is not None:
        ns = ctx.shop.resolve_namespace(args["namespace"])
        records = [r for r in records if r["namespace"] == ns]
    if args.get("keys"):
        wanted = set()
        for item in args["keys"]:
            ns, _, key = item.rpartition(".")
            wanted.add((ctx.shop.resolve_namespace(ns or None), key))
        records = [r for r in records if (r["namespace"], r["key"]) in wanted]
    return paginate(ctx, records, args, lambda r: r["id"], lambda r: metafield_node(ctx, r))


def _err(index: int, field: str, message: str, code: str) -> dict:
    return {
        "field": ["metafields", str(index), field],
        "message": message,
        "code": code,
        "elementIndex": index,
    }


def _check_input(ctx: RequestContext, index: int, item: dict) -> tuple[list[dict], tuple | None]:
    """Errors for one MetafieldsSetInput, or the (owner, namespace, key, type, value) to write."""
    shop = ctx.shop
    owner = item["ownerId"]
    parts = gid_parts(owner)
    if parts is None:
        return [_err(index, "ownerId", "Owner does not exist.", "INVALID")], None
    if parts[0] != "Customer":
        raise not_emulated(f"metafieldsSet on {parts[0]} owners")
    if "write_customers" not in ctx.granted:
        raise access_denied("metafieldsSet", "`write_customers` access scope.")
    if parts[1] not in shop.customers:
        return [_err(index, "ownerId", "Owner does not exist.", "INVALID")], None
    namespace = shop.resolve_namespace(item.get("namespace"))
    key = item["key"]
    errors = []
    if not 2 <= len(key) <= 64:
        code = "TOO_SHORT" if len(key) < 2 else "TOO_LONG"
        errors.append(_err(index, "key", "Key must be between 2 and 64 characters long.", code))
    if not 3 <= len(namespace) <= 255:
        code = "TOO_SHORT" if len(namespace) < 3 else "TOO_LONG"
        errors.append(_err(index, "namespace", "Namespace must be between 3 and 255 characters long.", code))
    if namespace.startswith("app--") and not namespace.startswith(shop.app_namespace):
        errors.append(
            _err(
                index,
                "namespace",
                "Access to this namespace and key on Metafields for this resource type is not allowed.",
                "APP_NOT_AUTHORIZED",
            )
        )
    spec = _definition_for(ctx, owner, namespace, key)
    mtype = item.get("type")
    if spec is not None:
        if mtype is not None and mtype != spec.type:
            errors.append(
                _err(index, "type", f"Type must be {spec.type} to match the definition.", "INVALID_TYPE")
            )
        mtype = spec.type
    elif mtype is None:
        existing = shop.metafield(owner, namespace, key)
        if existing is None:
            errors.append(_err(index, "type", "Type can't be blank", "BLANK"))
        else:
            mtype = existing["type"]
    elif mtype not in KNOWN_TYPES:
        errors.append(_err(index, "type", f"Type {mtype} is not a valid type.", "INVALID_TYPE"))
    value = item["value"]
    if mtype and not errors:
        if value == "":
            errors.append(_err(index, "value", "Value can't be blank.", "BLANK"))
        else:
            problem = value_error(mtype, value)
            if problem:
                errors.append(_err(index, "value", problem, "INVALID_VALUE"))
    if "compareDigest" in item:
        existing = shop.metafield(owner, namespace, key)
        current = existing["digest"] if existing else None
        if item["compareDigest"] != current:
            errors.append(
                _err(
                    index,
                    "compareDigest",
                    STALE_DIGEST_MESSAGE,
                    "STALE_OBJECT",
                )
            )
    if errors:
        return errors, None
    return [], (owner, namespace, key, mtype, value)


def resolve_metafields_set(ctx: RequestContext, info, metafields: list[dict]) -> dict:
    """`metafieldsSet`: validate every input first, then write all or nothing."""
    sizes = {"metafields": len(metafields), "bytes": sum(len(m["value"].encode()) for m in metafields)}
    ctx.shop.mutation_log.append(("metafieldsSet", sizes))
    if len(metafields) > MAX_METAFIELDS_PER_CALL:
        raise GraphQLError(
            f"The input array size of {len(metafields)} is greater than the maximum allowed of "
            f"{MAX_METAFIELDS_PER_CALL}.",
            extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
        )
    errors: list[dict] = []
    writes = []
    for index, item in enumerate(metafields):
        item_errors, write = _check_input(ctx, index, item)
        errors.extend(item_errors)
        if write:
            writes.append(write)
    if errors:
        return {"metafields": None, "userErrors": errors}
    written = [ctx.shop.write_metafield(*w) for w in writes]
    return {"metafields": [metafield_node(ctx, rec) for rec in written], "userErrors": []}


def resolve_metafields_delete(ctx: RequestContext, info, metafields: list[dict]) -> dict:
    """`metafieldsDelete`: a null entry for each identifier that matched no metafield."""
    ctx.shop.mutation_log.append(("metafieldsDelete", {"metafields": len(metafields)}))
    deleted: list[dict | None] = []
    for item in metafields:
        parts = gid_parts(item["ownerId"])
        if parts is None:
            return {
                "deletedMetafields": None,
                "userErrors": [{"field": ["metafields"], "message": "Owner does not exist."}],
            }
        if parts[0] != "Customer":
            raise not_emulated(f"metafieldsDelete on {parts[0]} owners")
        if "write_customers" not in ctx.granted:
            raise access_denied("metafieldsDelete", "`write_customers` access scope.")
    for item in metafields:
        namespace = ctx.shop.resolve_namespace(item["namespace"])
        bucket = ctx.shop.metafields.get(item["ownerId"], {})
        rec = bucket.pop((namespace, item["key"]), None)
        deleted.append(
            {"ownerId": item["ownerId"], "namespace": namespace, "key": item["key"]} if rec else None
        )
    return {"deletedMetafields": deleted, "userErrors": []}


def resolve_metafield_definitions(ctx: RequestContext, info, **args: Any) -> dict:
    """`metafieldDefinitions(ownerType: CUSTOMER, namespace, key)`: shopify.app.toml's and created ones."""
    pairs: list[tuple[str, MetafieldDefinitionSpec]] = []
    if args.get("ownerType") == "CUSTOMER":
        pairs = ctx.shop.customer_definitions()
    namespace = args.get("namespace")
    if namespace is not None:
        pairs = [(ns, s) for ns, s in pairs if ns == ctx.shop.resolve_namespace(namespace)]
    if args.get("key") is not None:
        pairs = [(ns, s) for ns, s in pairs if s.key == args["key"]]
    if args.get("query"):
        raise not_emulated("metafieldDefinitions(query:)")
    return paginate(
        ctx,
        pairs,
        args,
        lambda p: definition_id(ctx, p[1].key, p[0]),
        lambda p: definition_node(ctx, p[1], p[0]),
    )


def _definition_error(field: str, message: str, code: str) -> dict:
    return {"field": ["definition", field], "message": message, "code": code}


def resolve_metafield_definition_create(ctx: RequestContext, info, definition: dict) -> dict:
    """`metafieldDefinitionCreate` for customer definitions, app-owned (`$app...`) or merchant-owned.

    https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldDefinitionCreate ("Requires API
    client to have access to the namespace and the resource type"). Access input (`access.admin`) is for
    app-owned definitions only (MetafieldDefinitionCreateUserErrorCode ADMIN_ACCESS_INPUT_NOT_ALLOWED);
    another app's reserved namespace is refused (RESERVED_NAMESPACE_KEY); one definition per
    owner type, namespace and key (TAKEN). The exact messages are not documented: ours are descriptive.
    """
    shop = ctx.shop
    if definition.get("ownerType") != "CUSTOMER":
        raise not_emulated(f"metafieldDefinitionCreate for {definition.get('ownerType')} owners")
    if "write_customers" not in ctx.granted:
        raise access_denied("metafieldDefinitionCreate", "`write_customers` access scope.")
    ctx.shop.mutation_log.append(("metafieldDefinitionCreate", {"definitions": 1}))
    raw_ns = definition.get("namespace")
    namespace = shop.resolve_namespace(raw_ns)
    key, mtype = definition["key"], definition["type"]
    admin = ((definition.get("access") or {}).get("admin") or None) if definition.get("access") else None
    errors = []
    if not 2 <= len(key) <= 64:
        errors.append(_definition_error("key", "Key must be between 2 and 64 characters long.", "INVALID"))
    if not 3 <= len(namespace) <= 255:
        errors.append(_definition_error("namespace", "Namespace is invalid.", "INVALID"))
    if mtype not in KNOWN_TYPES:
        errors.append(_definition_error("type", f"Type {mtype} is not a valid type.", "INCLUSION"))
    own = namespace == shop.app_namespace or namespace.startswith(shop.app_namespace + "--")
    if namespace.startswith("app--") and not own:
        errors.append(
            _definition_error("namespace", "Namespace is reserved for another app.", "RESERVED_NAMESPACE_KEY")
        )
    if admin is not None and not own:
        errors.append(
            _definition_error(
                "access",
                "Admin access can only be set on app-owned definitions.",
                "ADMIN_ACCESS_INPUT_NOT_ALLOWED",
            )
        )
    if shop.definition(namespace, key) is not None:
        errors.append(
            _definition_error("key", "Key is in use for Customer metafields on this namespace.", "TAKEN")
        )
    if errors:
        return {"createdDefinition": None, "userErrors": errors}
    spec = MetafieldDefinitionSpec(
        key=key,
        type=mtype,
        name=definition.get("name") or key,
        description=definition.get("description"),
        admin_access=(str(admin).lower() if admin else "merchant_read") if own else None,
        namespace=namespace,
    )
    shop.created_definitions[(namespace, key)] = spec
    return {"createdDefinition": definition_node(ctx, spec, namespace), "userErrors": []}
