"""Shared pieces of the resolvers: request context, Relay pagination, money, ids and errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from emulator.state import gid, gid_parts

if TYPE_CHECKING:
    from emulator.state import EmulatorState, ShopState

MAX_PAGE_SIZE = 250


@dataclass
class RequestContext:
    """What every resolver sees: the emulator, the shop, the token's scopes and pending webhooks."""

    state: EmulatorState
    shop: ShopState
    granted: frozenset[str]
    bulk: bool = False
    events: list[tuple[str, dict]] = field(default_factory=list)
    search_warnings: list[dict] = field(default_factory=list)

    def emit_later(self, topic: str, payload: dict) -> None:
        """Queue a webhook; delivered after the operation completes (never for a failed one)."""
        self.events.append((topic, payload))


def not_emulated(what: str) -> GraphQLError:
    """The error for anything valid against Shopify's schema that this emulator does not model."""
    return GraphQLError(
        f"{what} is not emulated by the Tsunagu Shopify emulator",
        extensions={"code": "NOT_EMULATED"},
    )


def access_denied(field_name: str, required_access: str) -> GraphQLError:
    """Shopify's ACCESS_DENIED error (changelog 2020-07: message names the field and the scope)."""
    return GraphQLError(
        f"Access denied for {field_name} field. Required access: {required_access}",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": required_access,
        },
    )


def money(amount: Decimal | str | float | int, currency: str) -> dict:
    """A MoneyV2: Shopify's Decimal scalar serialises as a string like "1500.0"."""
    dec = Decimal(str(amount))
    text = format(dec.normalize(), "f") if dec == dec.to_integral() else format(dec, "f")
    if "." not in text:
        text += ".0"
    return {"amount": text, "currencyCode": currency}


def money_bag(amount: Decimal | str | float | int, currency: str) -> dict:
    """A MoneyBag with shop and presentment money (the emulator has one currency per shop)."""
    m = money(amount, currency)
    return {"shopMoney": m, "presentmentMoney": dict(m)}


def parse_gid(value: str, kind: str) -> int | None:
    """The numeric id of a gid of `kind`, or None when it is another kind or malformed."""
    parts = gid_parts(value)
    if parts is None or parts[0] != kind:
        return None
    return parts[1]


def invalid_id(value: Any) -> GraphQLError:
    """Shopify's top-level error for a malformed global id argument."""
    return GraphQLError(f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"})


def require_gid(value: str, kind: str) -> int | None:
    """Numeric id for `kind`; raise like Shopify for a malformed gid, None for a gid of another kind."""
    parts = gid_parts(value)
    if parts is None:
        raise invalid_id(value)
    return parts[1] if parts[0] == kind else None


def encode_cursor(key: Any) -> str:
    """Opaque cursor over the sort key (stable while other records change)."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    """The sort key inside a cursor; Shopify answers a bad cursor with a top-level error."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from exc


def _comparable(key: Any) -> Any:
    return tuple(_comparable(k) for k in key) if isinstance(key, list | tuple) else key


def paginate(
    ctx: RequestContext,
    records: Iterable[Any],
    args: dict,
    sort_key: Callable[[Any], Any],
    to_node: Callable[[Any], dict],
    max_page_size: int = MAX_PAGE_SIZE,
) -> dict:
    """A Relay connection (edges, nodes, pageInfo) over `records` sorted by `sort_key` (ascending).

    Arguments follow Shopify: one of first/last is required (bulk queries excepted), at most 250,
    `last` needs `before`, `reverse` flips the order.
    """
    first, last = args.get("first"), args.get("last")
    after, before = args.get("after"), args.get("before")
    if not ctx.bulk:
        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last")
        for name, size in (("first", first), ("last", last)):
            if size is not None and size > max_page_size:
                raise GraphQLError(
                    f"{name} cannot exceed {max_page_size}. To query larger amounts of data with fewer "
                    "limits, bulk operations should be used instead."
                )
            if size is not None and size < 0:
                raise GraphQLError(f"{name} must be a positive integer")
        if last is not None and before is None:
            raise GraphQLError("using last without before is not supported")
    keyed = sorted(((_comparable(sort_key(r)), r) for r in records), key=lambda kr: kr[0])
    if args.get("reverse"):
        keyed.reverse()
    reverse = bool(args.get("reverse"))

    def after_key(k: Any, c: Any) -> bool:
        return k < c if reverse else k > c

    if after:
        cut = _comparable(decode_cursor(after))
        keyed = [kr for kr in keyed if after_key(kr[0], cut)]
    if before:
        cut = _comparable(decode_cursor(before))
        keyed = [kr for kr in keyed if after_key(cut, kr[0])]
    has_next = has_prev = False
    if first is not None:
        has_next = len(keyed) > first
        keyed = keyed[:first]
        has_prev = bool(after)
    elif last is not None:
        has_prev = len(keyed) > last
        keyed = keyed[-last:] if last else []
        has_next = bool(before)
    edges = [{"cursor": encode_cursor(k), "node": to_node(r)} for k, r in keyed]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def list_first(items: list, first: int | None) -> list:
    """Plain list fields with a `first` argument (e.g. Order.refunds)."""
    return items if first is None else items[:first]


__all__ = ["gid"]
