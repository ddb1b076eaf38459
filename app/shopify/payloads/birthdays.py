"""Birthdays kept in customer metafields -> the month alone (1-12); the day and year never leave here.

Merchants keep a customer's birthday in a metafield, usually Shopify's standard `facts.birth_date` of type
date (https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-standard-definitions), whose value
is an ISO 8601 date such as "1990-05-17" (https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-data-types).
A shop's own text metafield may hold "05-17" or the ISO 8601 form without a year, "--05-17"; "/" and "."
separators are read too. Anything else is not a birthday: the month is None and the value is not repeated
anywhere (it is personal data).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FULL = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_NO_YEAR = re.compile(r"(?:--)?(\d{1,2})[-/.](\d{1,2})")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29 February: a birthday without a year may be one
MAX_FIELDS = 50  # a body carries few metafields; more is not a shape Shopify sends


def month_of(value: Any) -> int | None:
    """The month of a birthday value, or None when the value is not a calendar date."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip().split("T", 1)[0]
    full = _FULL.fullmatch(text)
    if full is not None:
        year, month, day = (int(part) for part in full.groups())
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]) or (month, day, leap) == (2, 29, False):
            return None
        return month
    short = _NO_YEAR.fullmatch(text)
    if short is not None:
        month, day = int(short.group(1)), int(short.group(2))
        return month if 1 <= month <= 12 and 1 <= day <= _DAYS[month - 1] else None
    return None


def birth_months(metafields: Any) -> tuple[tuple[str, int | None], ...]:
    """("namespace.key", month or None) for each metafield of a body's `metafields` list (REST shape)."""
    if not isinstance(metafields, list):
        return ()
    found: list[tuple[str, int | None]] = []
    for field in metafields[:MAX_FIELDS]:
        if not isinstance(field, Mapping):
            continue
        namespace, key = field.get("namespace"), field.get("key")
        if isinstance(namespace, str) and isinstance(key, str) and namespace and key:
            found.append((f"{namespace}.{key}"[:320], month_of(field.get("value"))))
    return tuple(found)
