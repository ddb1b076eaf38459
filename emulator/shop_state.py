"""One shop's records (customers, REST-shaped orders, metafields, segments, jobs) and its seeding API."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from emulator.cost import LeakyBucket
from emulator.resolvers.metafield_types import MetafieldDefinitionSpec, admin_readable, digest_of

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_APP_TOML = REPO_ROOT / "shopify.app.toml"


def json_copy(value: Any) -> Any:
    """Deep copy of JSON-shaped data; several times faster than copy.deepcopy (20k-order demo loads)."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def iso(ts: float) -> str:
    """Shopify's DateTime format (UTC, seconds precision, `Z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gid(kind: str, numeric_id: int | str) -> str:
    """`gid://shopify/<kind>/<id>`."""
    return f"gid://shopify/{kind}/{numeric_id}"


def gid_parts(value: str) -> tuple[str, int] | None:
    """(`Customer`, 42) from `gid://shopify/Customer/42`; None when malformed."""
    return _gid_parts(value) if isinstance(value, str) else None


@lru_cache(maxsize=65_536)
def _gid_parts(value: str) -> tuple[str, int] | None:
    """Parsed once per distinct gid: the sync pushes the same owners over and over."""
    prefix = "gid://shopify/"
    if not value.startswith(prefix):
        return None
    kind, _, num = value[len(prefix) :].partition("/")
    num = num.split("?", 1)[0]
    if not kind or not num.isdigit():
        return None
    return kind, int(num)


@dataclass
class AppConfig:
    """What the emulator reads from shopify.app.toml: metafield definitions and webhook topics."""

    definitions: dict[str, MetafieldDefinitionSpec]
    webhook_topics: list[str]
    webhook_uri: str
    scopes: list[str]  # what a merchant who also granted every optional scope has: required + optional
    required_scopes: list[str] = field(default_factory=list)  # granted on a managed install
    optional_scopes: list[str] = field(default_factory=list)  # granted later, when the merchant agrees
    include_fields: dict[str, list[str]] = field(default_factory=dict)  # topic -> the subscription's fields

    @classmethod
    def load(cls, path: str | Path) -> AppConfig:
        """Parse the TOML the Shopify CLI would deploy."""
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        defs: dict[str, MetafieldDefinitionSpec] = {}
        app_defs = data.get("customer", {}).get("metafields", {}).get("app", {})
        for key, spec in app_defs.items():
            defs[key] = MetafieldDefinitionSpec(
                key=key,
                type=spec["type"],
                name=spec.get("name", key),
                description=spec.get("description"),
                admin_access=(spec.get("access") or {}).get("admin", "merchant_read"),
            )
        topics: list[str] = []
        include: dict[str, list[str]] = {}
        uri = "/webhooks"
        for sub in data.get("webhooks", {}).get("subscriptions", []):
            topics.extend(sub.get("topics", []))
            topics.extend(sub.get("compliance_topics", []))
            for topic in sub.get("topics", []) if sub.get("include_fields") else []:
                include[topic] = list(sub["include_fields"])
            uri = sub.get("uri", uri)
        access = data.get("access_scopes", {})
        required = [s.strip() for s in access.get("scopes", "").split(",") if s.strip()]
        optional = [s.strip() for s in access.get("optional_scopes", []) if s.strip()]
        return cls(
            definitions=defs,
            webhook_topics=topics,
            webhook_uri=uri,
            scopes=required + [s for s in optional if s not in required],
            required_scopes=required,
            optional_scopes=optional,
            include_fields=include,
        )


@dataclass
class ShopState:
    """One installed shop: the records Shopify keeps for it and what the app did to them."""

    domain: str
    name: str
    plan: str
    currency: str
    timezone: str
    api_key: str
    config: AppConfig
    clock: Callable[[], float]
    bucket: LeakyBucket
    app_id: int = 1
    shop_id: int = 1
    installed: bool = True
    customers: dict[int, dict] = field(default_factory=dict)
    orders: dict[int, dict] = field(default_factory=dict)
    locations: dict[int, dict] = field(default_factory=dict)
    metafields: dict[str, dict[tuple[str, str], dict]] = field(default_factory=dict)
    segments_by_id: dict[int, dict] = field(default_factory=dict)
    member_queries: dict[int, dict] = field(default_factory=dict)
    bulk_operations: dict[int, dict] = field(default_factory=dict)
    bulk_results: dict[int, str] = field(default_factory=dict)
    discounts: dict[int, dict] = field(default_factory=dict)
    # Customer metafield definitions made through metafieldDefinitionCreate (or seeded), by resolved
    # (namespace, key); the app's own `$app` ones come from shopify.app.toml (`config.definitions`).
    created_definitions: dict[tuple[str, str], MetafieldDefinitionSpec] = field(default_factory=dict)
    webhook_subscriptions: list[dict] = field(default_factory=list)
    graphql_calls: int = 0
    throttled_count: int = 0
    mutation_log: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    flow_triggers: list[dict] = field(default_factory=list)  # accepted flowTriggerReceive (emulator/flow.py)
    _orders_by_customer: dict[int, list[int]] = field(default_factory=dict)
    _ids: dict[str, itertools.count] = field(default_factory=dict)

    # -- ids and namespaces -------------------------------------------------------------------------
    @property
    def app_namespace(self) -> str:
        """What `$app` resolves to: `app--<numeric app id>`, not the client id
        (https://shopify.dev/docs/apps/build/custom-data/ownership)."""
        return f"app--{self.app_id}"

    def definition(self, namespace: str, key: str) -> MetafieldDefinitionSpec | None:
        """The customer metafield definition of a resolved (namespace, key), if the shop has one."""
        if namespace == self.app_namespace:
            return self.config.definitions.get(key)
        return self.created_definitions.get((namespace, key))

    def customer_definitions(self) -> list[tuple[str, MetafieldDefinitionSpec]]:
        """Every customer metafield definition as (resolved namespace, spec): the TOML's, then the others."""
        own = [(self.app_namespace, spec) for spec in self.config.definitions.values()]
        return own + [(ns, spec) for (ns, _), spec in self.created_definitions.items()]

    def add_metafield_definition(
        self, namespace: str, key: str, mtype: str, name: str | None = None, admin_access: str | None = None
    ) -> MetafieldDefinitionSpec:
        """Seed a customer metafield definition (another app's, or the merchant's) as if created by them."""
        resolved = self.resolve_namespace(namespace)
        spec = MetafieldDefinitionSpec(key, mtype, name or key, None, admin_access, namespace=resolved)
        self.created_definitions[(resolved, key)] = spec
        return spec

    def resolve_namespace(self, namespace: str | None) -> str:
        """Expand `$app` / `$app:sub` (and an omitted namespace) into the stored namespace."""
        if namespace is None or namespace == "$app":
            return self.app_namespace
        if namespace.startswith("$app:"):
            return f"{self.app_namespace}--{namespace[len('$app:') :]}"
        return namespace

    def next_id(self, kind: str) -> int:
        """Numeric ids increase per resource kind, like Shopify's (never reused)."""
        counter = self._ids.setdefault(kind, itertools.count(1))
        return next(counter)

    def _bump_past(self, kind: str, used: int) -> None:
        """Keep generated ids above ids supplied by seeders."""
        counter = self._ids.setdefault(kind, itertools.count(1))
        current = next(counter)
        self._ids[kind] = itertools.count(max(current, used + 1))

    def now_iso(self) -> str:
        """The shop clock as a Shopify DateTime."""
        return iso(self.clock())

    # -- seeding --------------------------------------------------------------------------------------
    def add_customer(self, **fields: Any) -> dict:
        """Create a customer (REST field names); returns the stored record."""
        cid = int(fields.pop("id", 0) or 0) or self.next_id("Customer")
        self._bump_past("Customer", cid)
        now = self.now_iso()
        tags = fields.pop("tags", [])
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        metafields = fields.pop("metafields", None) or {}
        record = {
            "id": cid,
            "admin_graphql_api_id": gid("Customer", cid),
            "first_name": fields.pop("first_name", None),
            "last_name": fields.pop("last_name", None),
            "email": fields.pop("email", None),
            "phone": fields.pop("phone", None),
            "tags": sorted(set(tags)),
            "created_at": fields.pop("created_at", now),
            "updated_at": fields.pop("updated_at", now),
            "amount_spent": str(fields.pop("amount_spent", "0")),
            "orders_count": int(fields.pop("orders_count", 0)),
            "note": fields.pop("note", None),
            "state": fields.pop("state", "enabled"),
            "verified_email": fields.pop("verified_email", True),
        }
        record.update(fields)
        self.customers[cid] = record
        for key, value in metafields.items():
            self._seed_metafield(record["admin_graphql_api_id"], key, value)
        return record

    def _seed_metafield(self, owner: str, key: str, value: Any) -> None:
        """Seed an app metafield; `value` is a str or {"type", "value"} (namespace `$app` unless dotted)."""
        namespace, _, short = key.rpartition(".")
        namespace = self.resolve_namespace(namespace or None)
        if isinstance(value, dict):
            mtype, mvalue = value["type"], str(value["value"])
        else:
            spec = self.config.definitions.get(short)
            mtype, mvalue = (spec.type if spec else "single_line_text_field"), str(value)
        self.write_metafield(owner, namespace, short, mtype, mvalue)

    def add_location(self, name: str, **fields: Any) -> dict:
        """Create a (retail) location."""
        lid = int(fields.pop("id", 0) or 0) or self.next_id("Location")
        self._bump_past("Location", lid)
        now = self.now_iso()
        record = {
            "id": lid,
            "admin_graphql_api_id": gid("Location", lid),
            "name": name,
            "active": fields.pop("active", True),
            "created_at": fields.pop("created_at", now),
            "updated_at": fields.pop("updated_at", now),
            "address1": fields.pop("address1", None),
            "city": fields.pop("city", None),
            "province": fields.pop("province", None),
            "zip": fields.pop("zip", None),
            "country_code": fields.pop("country_code", "JP"),
        }
        record.update(fields)
        self.locations[lid] = record
        return record

    def rename_location(self, location_id: int, name: str) -> dict:
        """The merchant renames a location in the admin (`Location.name`, `updatedAt` moves)."""
        record = self.locations[int(location_id)]
        record["name"], record["updated_at"] = name, self.now_iso()
        return record

    def add_order(self, order: dict, copy: bool = True) -> dict:
        """Store a REST-webhook-shaped order (the single source of truth for GraphQL Order too).

        `copy=False` stores the caller's dict itself (bulk loaders that hand over fresh dicts save the copy).
        """
        rec = json_copy(order) if copy else order
        oid = int(rec.get("id") or 0) or self.next_id("Order")
        self._bump_past("Order", oid)
        now = self.now_iso()
        rec["id"] = oid
        rec.setdefault("admin_graphql_api_id", gid("Order", oid))
        rec.setdefault("name", f"#{1000 + len(self.orders) + 1}")
        rec.setdefault("created_at", now)
        rec.setdefault("updated_at", rec["created_at"])
        rec.setdefault("processed_at", rec["created_at"])
        rec.setdefault("currency", self.currency)
        rec.setdefault("total_price", rec.get("current_total_price", "0"))
        rec.setdefault("current_total_price", rec["total_price"])
        rec.setdefault("subtotal_price", rec["total_price"])
        rec.setdefault("source_name", "web")
        rec.setdefault("location_id", None)
        rec.setdefault("customer", None)
        rec.setdefault("line_items", [])
        rec.setdefault("refunds", [])
        rec.setdefault("cancelled_at", None)
        rec.setdefault("financial_status", "paid")
        rec.setdefault("discount_codes", [])
        rec.setdefault("tags", "")
        self.orders[oid] = rec
        self._count_discount_use(rec)
        cust = rec.get("customer") or None
        if cust and cust.get("id") is not None:
            self._orders_by_customer.setdefault(int(cust["id"]), []).append(oid)
        return rec

    def _count_discount_use(self, order: dict) -> None:
        """An order carrying a code the app created (basic or free shipping) counts as one use of it."""
        used = {str(d.get("code", "")).lower() for d in order.get("discount_codes") or []}
        for disc in self.discounts.values():
            if disc["code"].lower() in used:
                disc["usage_count"] += 1

    def update_order(self, order_id: int, **changes: Any) -> dict:
        """Change an order's REST fields and bump `updated_at` (as every Shopify edit does)."""
        rec = self.orders[int(order_id)]
        old_customer = (rec.get("customer") or {}).get("id")
        rec.update(json_copy(changes))
        rec["updated_at"] = changes.get("updated_at", self.now_iso())
        new_customer = (rec.get("customer") or {}).get("id")
        if old_customer != new_customer:
            self._reindex_order_customer(rec["id"], old_customer, new_customer)
        return rec

    def _reindex_order_customer(self, oid: int, old: Any, new: Any) -> None:
        if old is not None and oid in self._orders_by_customer.get(int(old), []):
            self._orders_by_customer[int(old)].remove(oid)
        if new is not None:
            self._orders_by_customer.setdefault(int(new), []).append(oid)

    def add_refund(self, order_id: int, refund: dict) -> dict:
        """Attach a refund; lowers `current_total_price` by the refunded amount and bumps `updated_at`."""
        rec = self.orders[int(order_id)]
        refund = json_copy(refund)
        rid = int(refund.get("id") or 0) or self.next_id("Refund")
        self._bump_past("Refund", rid)
        now = self.now_iso()
        refund["id"] = rid
        refund.setdefault("admin_graphql_api_id", gid("Refund", rid))
        refund.setdefault("order_id", rec["id"])
        refund.setdefault("created_at", now)
        refund.setdefault("processed_at", refund["created_at"])
        refund.setdefault("refund_line_items", [])
        refund.setdefault("transactions", [])
        refund.setdefault("order_adjustments", [])
        amount = refund_amount(refund)
        rec["refunds"].append(refund)
        current = Decimal(str(rec.get("current_total_price") or "0")) - amount
        rec["current_total_price"] = str(max(current, Decimal(0)))
        if isinstance(rec.get("current_total_price_set"), dict):
            for money_set in rec["current_total_price_set"].values():
                money_set["amount"] = rec["current_total_price"]
        rec["financial_status"] = "refunded" if current <= 0 else "partially_refunded"
        rec["updated_at"] = now
        return refund

    def add_webhook_subscription(self, topic: str, uri: str) -> dict:
        """A shop-scoped subscription as if created through webhookSubscriptionCreate."""
        sid = self.next_id("WebhookSubscription")
        now = self.now_iso()
        sub = {"id": sid, "topic": topic, "uri": uri, "created_at": now, "updated_at": now}
        self.webhook_subscriptions.append(sub)
        return sub

    # -- metafields -------------------------------------------------------------------------------------
    def write_metafield(self, owner: str, namespace: str, key: str, mtype: str, value: str) -> dict:
        """Create or update one metafield record (validation happens in the metafieldsSet resolver)."""
        bucket = self.metafields.setdefault(owner, {})
        now = self.now_iso()
        existing = bucket.get((namespace, key))
        if existing is None:
            mid = self.next_id("Metafield")
            existing = {"id": mid, "namespace": namespace, "key": key, "created_at": now, "owner": owner}
            bucket[(namespace, key)] = existing
        existing.update(type=mtype, value=value, updated_at=now, digest=digest_of(mtype, value))
        return existing

    def metafield(self, owner: str, namespace: str, key: str) -> dict | None:
        """The stored record, or None."""
        return self.metafields.get(owner, {}).get((namespace, key))

    # -- derived customer facts ---------------------------------------------------------------------------
    def customer_orders(self, customer_id: int) -> list[dict]:
        """Orders whose customer is `customer_id`, oldest first."""
        ids = self._orders_by_customer.get(int(customer_id), [])
        return [self.orders[i] for i in ids if i in self.orders]

    def customer_stats(self, customer_id: int) -> dict:
        """amount_spent / orders_count / first+last order dates as Shopify derives them from orders."""
        cust = self.customers[int(customer_id)]
        orders = [o for o in self.customer_orders(customer_id) if not o.get("cancelled_at")]
        spent = Decimal(str(cust.get("amount_spent") or "0"))
        spent += sum((Decimal(str(o.get("current_total_price") or "0")) for o in orders), Decimal(0))
        # Offsets differ between records (+09:00, Z): compare instants, report the stored strings.
        first = min(orders, key=_processed_instant) if orders else None
        last = max(orders, key=_processed_instant) if orders else None
        return {
            "amount_spent": spent,
            "orders_count": int(cust.get("orders_count") or 0) + len(orders),
            "first_order_at": (first.get("processed_at") or first["created_at"]) if first else None,
            "last_order_at": (last.get("processed_at") or last["created_at"]) if last else None,
            "last_order_id": last["id"] if last else None,
        }

    def touch_customer(self, customer_id: int) -> None:
        """Bump a customer's updated_at (tag changes and merges do this on Shopify)."""
        self.customers[int(customer_id)]["updated_at"] = self.now_iso()

    # -- inspection (tests and the demo read state through these) -------------------------------------------
    def customer_metafields(
        self, customer_id: int, namespace: str | None = None
    ) -> dict[str, dict[str, str]]:
        """A customer's metafields in one namespace (the app's unless given): {key: {"type", "value"}}."""
        owner = gid("Customer", customer_id)
        wanted = self.resolve_namespace(namespace)
        out: dict[str, dict[str, str]] = {}
        for (ns, key), rec in sorted(self.metafields.get(owner, {}).items()):
            if ns == wanted:
                out[key] = {"type": rec["type"], "value": rec["value"]}
        return out

    def metafields_readable_by(self, customer_id: int, app_namespace: str) -> dict[str, str]:
        """What an app whose `$app` is `app_namespace` (with read_customers) reads of a customer's
        metafields, as {"namespace.key": value} (MetafieldAdminAccess rules: `admin_readable`)."""
        owner = gid("Customer", customer_id)
        return {
            f"{ns}.{key}": rec["value"]
            for (ns, key), rec in sorted(self.metafields.get(owner, {}).items())
            if admin_readable(app_namespace, ns, self.definition(ns, key))
        }

    def customer_tags(self, customer_id: int) -> list[str]:
        """A customer's tags, sorted as Shopify returns them."""
        return list(self.customers[int(customer_id)]["tags"])

    def segments(self) -> list[dict]:
        """Segments created through segmentCreate: id, name, query, creation/edit dates."""
        return [dict(s) for s in self.segments_by_id.values()]

    def segment_members(self, segment_id: int | str) -> list[int]:
        """Customer ids currently matching a segment's query."""
        from emulator.segment_query import compile_segment_query, members

        if isinstance(segment_id, str):
            parts = gid_parts(segment_id)
            segment_id = parts[1] if parts else int(segment_id)
        seg = self.segments_by_id[int(segment_id)]
        return members(self, compile_segment_query(seg["query"], self))

    def app_webhook_topics(self) -> list[str]:
        """Topics declared in shopify.app.toml (app-scoped: not listed by webhookSubscriptions)."""
        return list(self.config.webhook_topics)


def _processed_instant(order: dict) -> float:
    """When an order was processed, as seconds since the epoch."""
    stamp = order.get("processed_at") or order["created_at"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def refund_amount(refund: dict) -> Decimal:
    """The amount a REST refund gave back: its refund transactions, else its line items' subtotals."""
    txs = [t for t in refund.get("transactions", []) if t.get("kind", "refund") == "refund"]
    if txs:
        return sum((Decimal(str(t.get("amount") or "0")) for t in txs), Decimal(0))
    items = refund.get("refund_line_items", [])
    total = sum((Decimal(str(i.get("subtotal") or "0")) for i in items), Decimal(0))
    if "amount" in refund:
        total = Decimal(str(refund["amount"]))
    return total
