"""Metafield definitions from the app's TOML and Shopify's value checks per metafield type.

Types and limits: https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-data-types
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

# Most types store at most 64 KB; json may hold 128 KB since 2026-04 (FACTS.md).
MAX_VALUE_BYTES = 65_536
MAX_JSON_BYTES = 131_072
LIST_MAX_ITEMS = 128
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
SEGMENT_TYPES = {
    "single_line_text_field",
    "number_integer",
    "number_decimal",
    "date",
    "date_time",
    "boolean",
}


@dataclass(frozen=True)
class MetafieldDefinitionSpec:
    """A customer metafield definition declared under [customer.metafields.app.<key>]."""

    key: str
    type: str
    name: str
    description: str | None
    admin_access: str | None  # None: a merchant-owned definition (access applies to app namespaces only)
    namespace: str = "$app"  # as declared; `$app` resolves per app (ShopState.resolve_namespace)

    @property
    def segmentable(self) -> bool:
        """Segments filter only on definitions with a scalar type (never json)."""
        return self.type in SEGMENT_TYPES


def admin_readable(requester_namespace: str, namespace: str, spec: MetafieldDefinitionSpec | None) -> bool:
    """Whether the app whose `$app` is `requester_namespace` may read a metafield in `namespace`.

    Its own namespace: yes. Another app's reserved namespace (`app--...`): only when the definition's admin
    access is PUBLIC_READ or PUBLIC_READ_WRITE; MERCHANT_READ and MERCHANT_READ_WRITE mean "No other apps
    have access" (https://shopify.dev/docs/api/admin-graphql/latest/enums/MetafieldAdminAccess), and one
    without a definition is private to its app
    (https://shopify.dev/docs/apps/build/custom-data/metafields/definitions/use-access-controls-metafields).
    Any other (merchant-owned) namespace: every installed app can read it (same page).
    """
    if namespace == requester_namespace or not namespace.startswith("app--"):
        return True
    return spec is not None and str(spec.admin_access or "").lower() in ("public_read", "public_read_write")


KNOWN_TYPES = SEGMENT_TYPES | {
    "json",
    "multi_line_text_field",
    "url",
    "color",
    "list.single_line_text_field",
    "list.number_integer",
    "list.date",
}


def digest_of(mtype: str, value: str) -> str:
    """An opaque digest that changes whenever the stored value changes (for compareDigest)."""
    return hashlib.sha256(f"{mtype}\x00{value}".encode()).hexdigest()


def value_error(mtype: str, value: str) -> str | None:
    """Shopify's complaint about `value` for `mtype`, or None when the value is acceptable."""
    limit = MAX_JSON_BYTES if mtype == "json" else MAX_VALUE_BYTES
    if len(value.encode()) > limit:
        return f"Value is too long. The maximum size is {limit // 1024} KB."
    check = _CHECKS.get(mtype)
    if check is None:
        return None
    return check(value)


def _integer(value: str) -> str | None:
    if not re.fullmatch(r"-?\d+", value.strip()) or value != value.strip():
        return "Value must be an integer."
    if not INT_MIN <= int(value) <= INT_MAX:
        return "Value must be an integer between -9,223,372,036,854,775,808 and 9,223,372,036,854,775,807."
    return None


def _decimal(value: str) -> str | None:
    if not re.fullmatch(r"-?\d+(\.\d+)?", value):
        return "Value must be a decimal number."
    try:
        Decimal(value)
    except InvalidOperation:
        return "Value must be a decimal number."
    whole, _, frac = value.lstrip("-").partition(".")
    if len(frac) > 9 or len(whole) > 12:
        return "Value must be a decimal with up to 12 digits before and 9 digits after the decimal point."
    return None


def _date(value: str) -> str | None:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        return "Value must be in YYYY-MM-DD format."
    return None


def _date_time(value: str) -> str | None:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "Value must be in YYYY-MM-DDTHH:MM:SS format."
    return None


def _boolean(value: str) -> str | None:
    return None if value in ("true", "false") else "Value must be true or false."


def _json(value: str) -> str | None:
    try:
        json.loads(value)
    except ValueError:
        return "Value is invalid JSON."
    return None


def _single_line(value: str) -> str | None:
    if "\n" in value or "\r" in value:
        return "Value must be a single line of text."
    return None


def _list_of(item_check):
    def check(value: str) -> str | None:
        try:
            items = json.loads(value)
        except ValueError:
            return "Value is invalid JSON."
        if not isinstance(items, list):
            return "Value must be an array."
        if len(items) > LIST_MAX_ITEMS:
            return f"Value must have at most {LIST_MAX_ITEMS} items."
        for item in items:
            problem = item_check(str(item) if not isinstance(item, str) else item)
            if problem:
                return problem
        return None

    return check


_CHECKS = {
    "number_integer": _integer,
    "number_decimal": _decimal,
    "date": _date,
    "date_time": _date_time,
    "boolean": _boolean,
    "json": _json,
    "single_line_text_field": _single_line,
    "list.single_line_text_field": _list_of(_single_line),
    "list.number_integer": _list_of(_integer),
    "list.date": _list_of(_date),
}


def json_value(mtype: str, value: str):
    """`Metafield.jsonValue`: the value decoded to JSON per type."""
    if mtype == "number_integer":
        return int(value)
    if mtype == "number_decimal":
        return value
    if mtype == "boolean":
        return value == "true"
    if mtype == "json" or mtype.startswith("list."):
        return json.loads(value)
    return value
