"""The subset of Shopify's segment query language the app emits, parsed and evaluated over state.

Reference: https://shopify.dev/docs/api/shopifyql/segment-query-language-reference and the customer segment
guide (https://help.shopify.com/en/manual/customers/customer-segmentation/reference-guide). Supported:
comparisons (= != > >= < <=), BETWEEN a AND b, IS [NOT] NULL, [NOT] CONTAINS, AND/OR/NOT, parentheses;
filters customer_tags, amount_spent, number_of_orders, first/last_order_date, customer_added_date and
customer metafields with a segment-usable definition (`metafields.app--<numeric app id>.<key>`,
`metafields.<merchant namespace>.<key>`, as listed by segmentFilters). Dates accept YYYY-MM-DD,
today/yesterday, `-30d`/`+7d`/`-4w`/`-6m`/`-1y`, `30_days_ago`.
Anything else is rejected the way Shopify rejects an unknown filter, never silently matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from emulator.state import ShopState

Predicate = Callable[["CustomerFacts"], bool]

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>!=|>=|<=|=|>|<)|(?P<lp>\()|(?P<rp>\))|
    (?P<comma>,)|(?P<word>[^\s()'",=<>!]+)""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "CONTAINS", "BETWEEN", "IS", "NULL", "MATCHES"}


class SegmentQueryError(ValueError):
    """An invalid segment query; `str()` is the message Shopify's userErrors carry."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int


@dataclass(frozen=True)
class FilterSpec:
    """A segment filter: its query name, value kind and whether it holds several values."""

    name: str
    kind: str  # "number", "integer", "date", "text", "boolean", "tags"
    localized: str
    multi: bool = False


BUILTIN_FILTERS = (
    FilterSpec("customer_tags", "tags", "Customer tags", multi=True),
    FilterSpec("amount_spent", "number", "Amount spent"),
    FilterSpec("number_of_orders", "integer", "Number of orders"),
    FilterSpec("first_order_date", "date", "First order date"),
    FilterSpec("last_order_date", "date", "Last order date"),
    FilterSpec("customer_added_date", "date", "Customer added date"),
)
# Real Shopify filters the emulator does not evaluate: a query using one fails as "not emulated"
# instead of pretending Shopify would reject it (or silently matching nobody).
NOT_EMULATED_FILTERS = frozenset(
    {
        "email_subscription_status",
        "sms_subscription_status",
        "customer_email_domain",
        "customer_language",
        "customer_cities",
        "customer_regions",
        "customer_countries",
        "customer_within_distance",
        "customer_account_status",
        "companies",
        "predicted_spend_tier",
        "rfm_group",
        "abandoned_checkout_date",
        "products_purchased",
        "orders_placed",
        "shopify_email.opened",
        "shopify_email.clicked",
        "store_credit_accounts",
        "storefront.product_viewed",
    }
)
_KIND_OF_TYPE = {
    "number_integer": "integer",
    "number_decimal": "number",
    "date": "date",
    "date_time": "date",
    "boolean": "boolean",
    "single_line_text_field": "text",
}


def available_filters(shop: ShopState) -> list[FilterSpec]:
    """What segmentFilters lists: built-ins plus every segment-usable customer metafield definition.

    "If you created a customer metafield definition, then the metafield can be used as a filter" for date,
    number, text and true/false types
    (https://help.shopify.com/en/manual/customers/customer-segmentation/reference-guide/metafield-segments).
    Each is named with its resolved namespace: `metafields.app--<numeric app id>.<key>` for the app's own
    (`$app` resolves to the app's numeric id, https://shopify.dev/docs/apps/build/custom-data/ownership),
    `metafields.<namespace>.<key>` for merchant-owned ones. A query naming anything else is refused.
    """
    out = list(BUILTIN_FILTERS)
    for namespace, spec in shop.customer_definitions():
        if spec.segmentable:
            out.append(FilterSpec(f"metafields.{namespace}.{spec.key}", _KIND_OF_TYPE[spec.type], spec.name))
    return out


class CustomerFacts:
    """What a predicate reads about one customer, computed on first use (segments over large shops)."""

    _STAT_FILTERS = ("amount_spent", "number_of_orders", "first_order_date", "last_order_date")

    def __init__(self, shop: ShopState, customer_id: int) -> None:
        self.shop = shop
        self.id = customer_id
        self._values: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        """The value of filter `name` for this customer (None when unset)."""
        if name not in self._values:
            if name in self._STAT_FILTERS:
                self._values.update(self._stats())
            else:
                self._values[name] = self._compute(name)
        return self._values[name]

    def _stats(self) -> dict[str, Any]:
        stats = self.shop.customer_stats(self.id)
        return {
            "amount_spent": Decimal(stats["amount_spent"]),
            "number_of_orders": Decimal(stats["orders_count"]),
            "first_order_date": _local_date(self.shop, stats["first_order_at"]),
            "last_order_date": _local_date(self.shop, stats["last_order_at"]),
        }

    def _compute(self, name: str) -> Any:
        shop = self.shop
        cust = shop.customers[self.id]
        if name == "customer_tags":
            return list(cust["tags"])
        if name == "customer_added_date":
            return _local_date(shop, cust["created_at"])
        _, namespace, key = name.split(".", 2)
        spec = shop.definition(namespace, key)
        assert spec is not None, name  # the parser only admits filters of existing definitions
        rec = shop.metafield(cust["admin_graphql_api_id"], namespace, key)
        return _metafield_value(shop, spec.type, rec["value"]) if rec else None


def _tokenize(query: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None:
            raise SegmentQueryError(f"Line 1 Column {pos}: unexpected character '{query[pos]}'.")
        kind = m.lastgroup or "ws"
        if kind != "ws":
            text = m.group(kind)
            if kind == "word" and text.upper() in KEYWORDS:
                kind, text = "kw", text.upper()
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, query: str, shop: ShopState, timezone: str | None) -> None:
        self.query = query
        self.shop = shop
        self.tokens = _tokenize(query)
        self.pos = 0
        self.filters = {f.name: f for f in available_filters(shop)}
        self.today = _today(shop, timezone or shop.timezone)

    def error(self, message: str, token: Token | None = None) -> SegmentQueryError:
        col = token.column if token else len(self.query)
        return SegmentQueryError(f"Line 1 Column {col}: {message}")

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (kind and tok.kind != kind) or (text and tok.text != text):
            want = text or kind or "a token"
            raise self.error(
                f"expected {want}" + (f" but found '{tok.text}'." if tok else " at end of query."), tok
            )
        self.pos += 1
        return tok

    def accept(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == kind and (text is None or tok.text == text):
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self.error("query can't be blank.")
        pred = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise self.error(f"unexpected '{tok.text}'.", tok)
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.accept("kw", "OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda c, ps=tuple(parts): any(p(c) for p in ps))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.accept("kw", "AND"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda c, ps=tuple(parts): all(p(c) for p in ps))

    def unary(self) -> Predicate:
        if self.accept("kw", "NOT"):
            inner = self.unary()
            return lambda c: not inner(c)
        if self.accept("lp"):
            inner = self.or_expr()
            self.take("rp")
            return inner
        return self.condition()

    def condition(self) -> Predicate:
        tok = self.take("word")
        spec = self.filters.get(tok.text)
        if spec is None and tok.text in NOT_EMULATED_FILTERS:
            raise self.error(f"'{tok.text}' filter is not emulated by the Tsunagu Shopify emulator.", tok)
        if spec is None:
            raise self.error(f"'{tok.text}' filter cannot be found.", tok)
        name = spec.name
        if self.accept("kw", "IS"):
            negate = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return lambda c: (c.get(name) in (None, [])) != negate
        negate = self.accept("kw", "NOT")
        if self.accept("kw", "CONTAINS"):
            if spec.kind != "tags":
                raise self.error(f"'{name}' does not support CONTAINS.", tok)
            wanted = self.value(spec).lower()
            return lambda c: any(t.lower() == wanted for t in c.get(name) or []) != negate
        if negate:
            raise self.error("NOT must be followed by CONTAINS here.", self.peek())
        if self.accept("kw", "BETWEEN"):
            self._no_tags(spec, tok)
            low = self.value(spec)
            self.take("kw", "AND")
            high = self.value(spec)
            return lambda c: (v := c.get(name)) is not None and low <= v <= high
        op_tok = self.take("op")
        self._no_tags(spec, tok)
        if spec.kind in ("text", "boolean") and op_tok.text not in ("=", "!="):
            raise self.error(f"'{op_tok.text}' is not a valid operator for '{name}'.", op_tok)
        wanted = self.value(spec)
        return _comparison(name, op_tok.text, wanted)

    def _no_tags(self, spec: FilterSpec, tok: Token) -> None:
        if spec.kind == "tags":
            raise self.error(f"'{spec.name}' only supports CONTAINS and NOT CONTAINS.", tok)

    def value(self, spec: FilterSpec) -> Any:
        tok = self.peek()
        if tok is None:
            raise self.error("missing value.")
        self.pos += 1
        text = tok.text
        if tok.kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        elif tok.kind != "word":
            raise self.error(f"unexpected '{text}'.", tok)
        try:
            return self._convert(spec, text, quoted=tok.kind == "str")
        except (ValueError, InvalidOperation) as exc:
            raise self.error(f"'{text}' is not a valid value for '{spec.name}'.", tok) from exc

    def _convert(self, spec: FilterSpec, text: str, quoted: bool) -> Any:
        if spec.kind in ("text", "tags"):
            if not quoted:
                raise ValueError(text)
            return text
        if quoted and spec.kind != "date":
            raise ValueError(text)
        if spec.kind == "integer":
            if not re.fullmatch(r"-?\d+", text):
                raise ValueError(text)
            return Decimal(text)
        if spec.kind == "number":
            return Decimal(text)
        if spec.kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        return _date_value(text, self.today)


def _comparison(name: str, op: str, wanted: Any) -> Predicate:
    def pred(c: CustomerFacts) -> bool:
        v = c.get(name)
        if v is None:
            return op == "!="
        return {
            "=": v == wanted,
            "!=": v != wanted,
            ">": v > wanted,
            ">=": v >= wanted,
            "<": v < wanted,
            "<=": v <= wanted,
        }[op]

    return pred


_RELATIVE = re.compile(r"([-+])(\d+)([dwmy])")
_AGO = re.compile(r"(\d+)_(day|week|month|year)s?_ago")


def _date_value(text: str, today: date) -> date:
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    rel = _RELATIVE.fullmatch(text)
    ago = _AGO.fullmatch(text)
    if rel or ago:
        sign = -1 if ago or rel.group(1) == "-" else 1
        n = sign * int((rel or ago).group(2 if rel else 1))
        unit = rel.group(3) if rel else ago.group(2)[0]
        if unit == "d":
            return today + timedelta(days=n)
        if unit == "w":
            return today + timedelta(weeks=n)
        months = n if unit == "m" else 12 * n
        y, mth = divmod(today.year * 12 + today.month - 1 + months, 12)
        return _clamp(y, mth + 1, today.day)
    return date.fromisoformat(text)


def _clamp(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def _today(shop: ShopState, timezone: str) -> date:
    return datetime.fromtimestamp(shop.clock(), ZoneInfo(timezone)).date()


def _local_date(shop: ShopState, value: str | None) -> date | None:
    """A stored timestamp (or YYYY-MM-DD) as a date in the shop's timezone."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(ZoneInfo(shop.timezone)).date()


def compile_segment_query(query: str, shop: ShopState, timezone: str | None = None) -> Predicate:
    """Parse a segment query into a predicate over CustomerFacts; SegmentQueryError when invalid.

    Relative dates (`-30d`, `today`) count from today in `timezone` (default: the shop's).
    """
    return _Parser(query, shop, timezone).parse()


def customer_facts(shop: ShopState, customer_id: int) -> CustomerFacts:
    """The (lazily computed) filter values of one customer."""
    return CustomerFacts(shop, customer_id)


def _metafield_value(shop: ShopState, mtype: str, value: str) -> Any:
    if mtype in ("number_integer", "number_decimal"):
        return Decimal(value)
    if mtype == "boolean":
        return value == "true"
    if mtype in ("date", "date_time"):
        return _local_date(shop, value)
    return value


def members(shop: ShopState, predicate: Predicate) -> list[int]:
    """Ids of customers matching a compiled query, ascending."""
    return [cid for cid in sorted(shop.customers) if predicate(customer_facts(shop, cid))]
