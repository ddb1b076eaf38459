"""The subset of Shopify's search syntax (`query:` arguments) the app uses.

https://shopify.dev/docs/api/usage/search-syntax: terms `field:value`, comparators `:>`, `:>=`, `:<`, `:<=`,
implicit AND, `AND`/`OR`, negation with `-` or `NOT`, quoted values. Like Shopify, an unknown field does not
fail the query: the term is ignored and a warning is reported in `extensions.search`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|
        (?P<term>-?[A-Za-z_][\w.]*:(?:>=|<=|>|<)?(?:'[^']*'|"[^"]*"|[^\s()]*))|
        (?P<word>'[^']*'|"[^"]*"|[^\s()]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Term:
    """One `field:op value` condition (field None for free text)."""

    field: str | None
    op: str
    value: str
    negated: bool = False


Getter = Callable[[Any], Any]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse(query: str) -> list[list[Term]]:
    """Disjunctive form: a list of OR-alternatives, each a list of AND-ed terms."""
    groups: list[list[Term]] = [[]]
    negate_next = False
    for match in _TOKEN.finditer(query or ""):
        if match.group("lparen") or match.group("rparen"):
            continue  # grouping is not used by the app; terms still combine with AND/OR
        if match.group("term"):
            raw = match.group("term")
            negated = negate_next or raw.startswith("-")
            raw = raw.lstrip("-")
            name, _, rest = raw.partition(":")
            op = next((o for o in (">=", "<=", ">", "<") if rest.startswith(o)), ":")
            value = rest[len(op) :] if op != ":" else rest
            groups[-1].append(Term(name.lower(), op, _unquote(value), negated))
            negate_next = False
            continue
        word = match.group("word")
        if word is None:
            continue
        if word == "OR":
            groups.append([])
        elif word == "AND":
            continue
        elif word == "NOT":
            negate_next = True
        else:
            groups[-1].append(
                Term(None, ":", _unquote(word.lstrip("-")), negate_next or word.startswith("-"))
            )
            negate_next = False
    return [g for g in groups if g]


def _as_datetime(value: str) -> datetime | None:
    text = value.strip().replace("Z", "+00:00")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, list):
        return any(_compare(a, op, wanted) for a in actual)
    if isinstance(actual, datetime):
        other = _as_datetime(wanted)
        if other is None:
            return False
        left: Any = actual
        right: Any = other
    elif isinstance(actual, int | float | Decimal) and not isinstance(actual, bool):
        try:
            left, right = Decimal(str(actual)), Decimal(wanted)
        except InvalidOperation:
            return False
    else:
        left, right = str(actual).lower(), wanted.lower()
    if op == ":":
        return left == right
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


class SearchFilter:
    """A compiled `query:` argument over records with the given field getters."""

    def __init__(
        self,
        query: str | None,
        getters: dict[str, Getter],
        default_fields: tuple[str, ...],
        normalizers: dict[str, Callable[[str], Any]] | None = None,
    ) -> None:
        self.query = query or ""
        self.normalizers = normalizers or {}
        self.getters = getters
        self.default_fields = default_fields
        self.warnings: list[dict] = []
        self.groups: list[list[Term]] = []
        for group in parse(self.query):
            kept = []
            for term in group:
                if term.field is not None and term.field not in getters:
                    self.warnings.append(
                        {
                            "field": term.field,
                            "message": "Invalid search field for this query.",
                            "code": "invalid_field",
                        }
                    )
                    continue
                kept.append(term)
            self.groups.append(kept)

    def _term_matches(self, record: Any, term: Term) -> bool:
        if term.field is None:
            hit = any(
                term.value.lower() in str(self.getters[f](record) or "").lower() for f in self.default_fields
            )
        elif term.value == "*":
            value = self.getters[term.field](record)
            hit = value not in (None, "", [])
        else:
            wanted = self.normalizers.get(term.field, lambda v: v)(term.value)
            hit = _compare(self.getters[term.field](record), term.op, wanted)
        return hit != term.negated

    def matches(self, record: Any) -> bool:
        """Whether a record satisfies the query (an empty query matches everything)."""
        if not self.groups:
            return True
        return any(all(self._term_matches(record, t) for t in group) for group in self.groups)

    def extension(self, path: list[str]) -> dict | None:
        """The `extensions.search` entry Shopify adds when terms were ignored."""
        if not self.warnings:
            return None
        return {"path": path, "query": self.query, "warnings": self.warnings}


def timestamp(value: str | None) -> datetime | None:
    """Parse a stored ISO timestamp for comparisons."""
    return _as_datetime(value) if value else None


def digits(value: str | None) -> str | None:
    """Phone numbers compare on their digits (Shopify stores E.164)."""
    return re.sub(r"\D", "", value) if value else None


def epoch(value: str | None) -> float:
    """Seconds since the epoch of a stored ISO timestamp (sort keys; offsets may differ per record)."""
    parsed = timestamp(value)
    return parsed.timestamp() if parsed else 0.0
