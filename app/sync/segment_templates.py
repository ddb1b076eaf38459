"""Segment definitions as data: rendered to Shopify's segment query language and evaluated on our own values.

One definition gives both the query Shopify runs and the count the app expects, so the dashboard can show
that they agree. A definition is an OR of AND-groups of conditions on the app's customer metafields; the
filter name of each metafield is whatever `segmentFilters` lists for it (never guessed).
Query language: https://shopify.dev/docs/api/shopifyql/segment-query-language-reference (dates: absolute
`yyyy-mm-dd`, offsets `-90d`/`+30d`, `today`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.settings import RankRules
from app.i18n import DEFAULT_LOCALE, translate, translate_or

OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "BETWEEN")
_OFFSET = re.compile(r"^([+-])(\d{1,4})d$")
KEY_TYPES = {
    "rank": "text",
    "channel_mix": "text",
    "favorite_store": "text",
    "member_number": "text",
    "points_balance": "number",
    "points_pending": "number",
    "spend_12m": "number",
    "lifetime_spend": "number",
    "purchase_count": "number",
    "store_purchase_count": "number",
    "online_purchase_count": "number",
    "first_purchase_at": "date",
    "last_purchase_at": "date",
    "last_store_visit_at": "date",
    "points_expire_at": "date",
    "line_linked": "boolean",
}


class SegmentDefinitionError(ValueError):
    """A definition the app cannot render or evaluate (unknown key, operator or value)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """`key op value` (BETWEEN takes a pair); dates are `yyyy-mm-dd`, `today` or a day offset like `-90d`."""

    key: str
    op: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "op": self.op, "value": self.value}


@dataclass(frozen=True, slots=True)
class SegmentDefinition:
    """A named segment: members matching any group, a group matching all its conditions."""

    handle: str
    name: str
    groups: tuple[tuple[Condition, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"groups": [[c.to_json() for c in group] for group in self.groups]}

    @classmethod
    def from_json(cls, handle: str, name: str, data: Mapping[str, Any]) -> SegmentDefinition:
        groups = tuple(
            tuple(Condition(str(c["key"]), str(c["op"]), _frozen(c["value"])) for c in group)
            for group in data.get("groups") or []
        )
        return validate(cls(handle, name, groups))


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def validate(definition: SegmentDefinition) -> SegmentDefinition:
    """Return the definition, or raise SegmentDefinitionError naming the first problem."""
    if not definition.groups or any(not group for group in definition.groups):
        raise SegmentDefinitionError("a segment needs at least one condition in every group")
    for group in definition.groups:
        for c in group:
            kind = KEY_TYPES.get(c.key)
            if kind is None:
                raise SegmentDefinitionError(f"unknown field {c.key!r}")
            if c.op not in OPERATORS:
                raise SegmentDefinitionError(f"unknown operator {c.op!r}")
            if kind in ("text", "boolean") and c.op not in ("=", "!="):
                raise SegmentDefinitionError(f"{c.key} only supports = and !=")
            values = c.value if c.op == "BETWEEN" else (c.value,)
            if c.op == "BETWEEN" and (not isinstance(c.value, tuple) or len(c.value) != 2):
                raise SegmentDefinitionError("BETWEEN needs two values")
            for v in values:
                _literal(kind, v, date(2000, 1, 1))  # raises on a bad value
    return definition


def template_name(handle: str, locale: str, rank: str | None = None) -> str:
    """A standard segment's name as created in Shopify, in the shop's language (ja/en catalogues)."""
    if rank is not None:  # merchant-named ranks have no catalogue entry: their handle, title-cased
        tier = translate_or(f"rank.{rank}", rank.title(), locale)
        label = translate("segment_template.rank_up", locale, rank=tier)
    else:
        label = translate(f"segment_template.{handle}", locale)
    return f"Tsunagu: {label}"


def standard_definitions(ranks: RankRules, locale: str = DEFAULT_LOCALE) -> list[SegmentDefinition]:
    """The segments every install starts with, named in `locale` (the shop's language)."""
    tiers = [t.handle for t in ranks.tiers]
    out = [
        SegmentDefinition(
            f"rank-{handle}-up",
            template_name(f"rank-{handle}-up", locale, rank=handle),
            tuple((Condition("rank", "=", h),) for h in tiers[i:]),
        )
        for i, handle in enumerate(tiers)
        if i > 0  # the lowest rank and up is everyone
    ]
    out += [
        SegmentDefinition("omni", template_name("omni", locale), ((Condition("channel_mix", "=", "omni"),),)),
        SegmentDefinition(
            "store-only",
            template_name("store-only", locale),
            ((Condition("channel_mix", "=", "store_only"),),),
        ),
        SegmentDefinition(
            "online-only",
            template_name("online-only", locale),
            ((Condition("channel_mix", "=", "online_only"),),),
        ),
        SegmentDefinition(
            "dormant-90d",
            template_name("dormant-90d", locale),
            ((Condition("last_purchase_at", "<", "-90d"),),),
        ),
        SegmentDefinition(
            "points-expiring-30d",
            template_name("points-expiring-30d", locale),
            ((Condition("points_expire_at", "BETWEEN", ("today", "+30d")),),),
        ),
        SegmentDefinition(
            "store-regulars-no-line",
            template_name("store-regulars-no-line", locale),
            ((Condition("store_purchase_count", ">=", 3), Condition("line_linked", "=", False)),),
        ),
    ]
    return [validate(d) for d in out]


def render(definition: SegmentDefinition, filter_names: Mapping[str, str]) -> str:
    """The Shopify segment query; `filter_names` maps metafield keys to their `segmentFilters` queryName."""
    groups = []
    for group in definition.groups:
        parts = [_render_condition(c, filter_names) for c in group]
        joined = " AND ".join(parts)
        groups.append(f"({joined})" if len(parts) > 1 and len(definition.groups) > 1 else joined)
    return " OR ".join(groups)


def _render_condition(c: Condition, filter_names: Mapping[str, str]) -> str:
    name = filter_names.get(c.key)
    if name is None:
        raise SegmentDefinitionError(f"Shopify lists no segment filter for {c.key!r}")
    kind = KEY_TYPES[c.key]
    if c.op == "BETWEEN":
        low, high = (_render_value(kind, v) for v in c.value)
        return f"{name} BETWEEN {low} AND {high}"
    return f"{name} {c.op} {_render_value(kind, c.value)}"


def _render_value(kind: str, value: Any) -> str:
    if kind == "text":
        escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if kind == "boolean":
        return "true" if value is True or value == "true" else "false"
    if kind == "number":
        return format(Decimal(str(value)), "f")
    return str(value)  # dates: yyyy-mm-dd, today, or an offset


def _literal(kind: str, value: Any, today: date) -> Any:
    """A condition value as a comparable Python value."""
    try:
        if kind == "text":
            return str(value)
        if kind == "boolean":
            if value in (True, False, "true", "false"):
                return value is True or value == "true"
            raise SegmentDefinitionError(f"not a boolean: {value!r}")
        if kind == "number":
            return Decimal(str(value))
        text = str(value)
        if text == "today":
            return today
        m = _OFFSET.match(text)
        if m:
            days = int(m.group(2))
            return today + timedelta(days=days if m.group(1) == "+" else -days)
        return date.fromisoformat(text)
    except (InvalidOperation, ValueError) as exc:
        raise SegmentDefinitionError(f"bad value {value!r}") from exc


def _stored(kind: str, raw: str | None) -> Any:
    """A metafield string value as the same comparable Python value (None when unset)."""
    if raw is None:
        return None
    if kind == "number":
        return Decimal(raw)
    if kind == "boolean":
        return raw == "true"
    if kind == "date":
        return date.fromisoformat(raw[:10])
    return raw


def matches(definition: SegmentDefinition, values: Mapping[str, str | None], today: date) -> bool:
    """Whether a member with these metafield values is in the segment (Shopify's semantics: unset never
    matches a comparison except `!=`)."""
    return any(all(_holds(c, values, today) for c in group) for group in definition.groups)


def _holds(c: Condition, values: Mapping[str, str | None], today: date) -> bool:
    kind = KEY_TYPES[c.key]
    have = _stored(kind, values.get(c.key))
    if c.op == "BETWEEN":
        low, high = (_literal(kind, v, today) for v in c.value)
        return have is not None and low <= have <= high
    want = _literal(kind, c.value, today)
    if have is None:
        return c.op == "!="
    return {
        "=": have == want,
        "!=": have != want,
        ">": have > want,
        ">=": have >= want,
        "<": have < want,
        "<=": have <= want,
    }[c.op]


def filter_names_from(nodes: Sequence[Mapping[str, Any]], namespace: str) -> dict[str, str]:
    """Map each of our metafield keys to the queryName `segmentFilters` lists for it.

    App-owned metafields are listed under their resolved namespace (`app--<numeric app id>`, learned from
    Shopify: app/shops/namespace.py), next to other apps' and the merchant's; only ours count.
    """
    names: dict[str, str] = {}
    for node in nodes:
        parts = str(node.get("queryName") or "").split(".")
        if len(parts) == 3 and parts[0] == "metafields" and parts[1] == namespace and parts[2] in KEY_TYPES:
            names[parts[2]] = ".".join(parts)
    return names
