"""flowTriggerReceive: the handle must be one of the app's trigger extensions, the payload its fields.

Shopify Flow matches `handle` against the app's deployed `flow_trigger` extensions and reads the payload by
the extension's field keys, the customer reference as `customer_id`
(https://shopify.dev/docs/apps/build/flow/triggers/reference,
https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/flowTriggerReceive). The emulator reads the
same extensions/flow-*/shopify.extension.toml that `shopify app deploy` ships, answers a mismatch with
userErrors, and records each accepted trigger on the shop for tests (`ShopState.flow_triggers`).

The docs give no wording for these userErrors: the messages here are the emulator's own, the `field` path
follows UserError's shape. Flow-side checks that need a workflow (whether any uses the trigger) are not
modelled: an accepted trigger is recorded whether or not a merchant's workflow would start.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

EXTENSIONS_DIR = Path(__file__).resolve().parent.parent / "extensions"
CUSTOMER_KEY = "customer_id"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@cache
def declared_triggers(root: Path = EXTENSIONS_DIR) -> dict[str, list[dict[str, Any]]]:
    """handle -> the fields of every `flow_trigger` extension under extensions/."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(root.glob("*/shopify.extension.toml")):
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        for ext in config.get("extensions", []):
            if ext.get("type") == "flow_trigger":
                found[ext["handle"]] = list(config.get("settings", {}).get("fields", []))
    return found


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("single_line_text_field", "multi_line_text_field", "email", "url"):
        return isinstance(value, str)
    if kind == "number_integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number_decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return True  # other Flow types (json, date_time, ...) are not checked by the emulator


def payload_errors(shop: Any, fields: list[dict[str, Any]], payload: Any) -> list[dict[str, Any]]:
    """userErrors for a payload that does not match the trigger's declared fields (empty when it does)."""
    if not isinstance(payload, dict):
        return [{"field": ["payload"], "message": "payload must be a JSON object"}]
    errors: list[dict[str, Any]] = []
    expected: set[str] = set()
    for spec in fields:
        kind = str(spec.get("type", ""))
        if kind == "customer_reference":
            expected.add(CUSTOMER_KEY)
            cid = payload.get(CUSTOMER_KEY)
            ok = (isinstance(cid, int) and not isinstance(cid, bool)) or (
                isinstance(cid, str) and cid.isdigit()
            )
            if not ok or int(cid) not in shop.customers:
                errors.append(
                    {"field": ["payload", CUSTOMER_KEY], "message": "customer_id names no customer"}
                )
            continue
        key = str(spec.get("key", ""))
        expected.add(key)
        if key not in payload:
            errors.append({"field": ["payload", key], "message": f"{key} is missing"})
        elif not _type_ok(kind, payload[key]):
            errors.append({"field": ["payload", key], "message": f"{key} is not a valid {kind}"})
    for extra in sorted(set(payload) - expected):
        errors.append({"field": ["payload", extra], "message": f"{extra} is not a field of this trigger"})
    return errors


def resolve_flow_trigger_receive(
    ctx: Any, info: Any, handle: str | None = None, payload: Any = None, body: str | None = None
) -> dict[str, Any]:
    """The mutation: refuse an unknown handle or a payload off its schema, else record the trigger."""
    if body is not None:
        return {"userErrors": [{"field": ["body"], "message": "body is deprecated: send handle and payload"}]}
    fields = declared_triggers().get(handle or "")
    if fields is None:
        return {"userErrors": [{"field": ["handle"], "message": "no trigger extension has this handle"}]}
    errors = payload_errors(ctx.shop, fields, payload)
    if not errors:
        ctx.shop.flow_triggers.append({"handle": handle, "payload": payload})
        ctx.shop.mutation_log.append(("flowTriggerReceive", {"triggers": 1}))
    return {"userErrors": errors}
