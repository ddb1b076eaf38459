"""Deterministic demo data for a Japanese retailer: customers, 3 stores + online, two years of orders."""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from emulator.demo_catalog import (
    FEMALE_NAMES,
    MALE_NAMES,
    PHONE_STYLE_TABLE,
    PHONE_STYLES,
    PREFECTURES,
    STORE_TABLE,
    STORES,
    SURNAME_TABLE,
    Weighted,
    email_for,
    format_phone,
    mobile_digits,
)
from emulator.demo_orders import JST, build_order, build_refunds, iso, money

# A fixed end keeps runs reproducible; the demo server ends at this moment (DemoSpec.ending_now).
DEFAULT_END = datetime(2026, 11, 1, tzinfo=JST)
CUSTOMER_ID_BASE = 7_100_000_000_000
# Who buys where: store-only customers never order online and the reverse.
CHANNEL_PROFILES = {"pos": frozenset({"store_only", "omni"}), "web": frozenset({"online_only", "omni"})}
REFUND_ID_BASE = 9_100_000_000_000
PROFILE_TABLE = Weighted([("online_only", 40), ("store_only", 35), ("omni", 25)])


@dataclass(frozen=True)
class DemoSpec:
    """Sizes and ratios of the demo shop; `scaled(100)` is the benchmark size."""

    customers: int = 2000
    orders: int = 20000
    days: int = 730
    end: datetime = DEFAULT_END
    seed: int = 20261101
    duplicate_ratio: float = 0.03
    pos_share: float = 0.55
    walk_in_ratio: float = 0.30  # share of POS sales with no customer attached
    refund_ratio: float = 0.04
    partial_refund_share: float = 0.4
    cancel_ratio: float = 0.01

    def scaled(self, scale: float) -> DemoSpec:
        """The same shop with `scale` times the customers and orders."""
        return replace(
            self, customers=max(1, round(self.customers * scale)), orders=round(self.orders * scale)
        )

    @classmethod
    def ending_now(cls, tz: tzinfo = JST, now: datetime | None = None, **sizes: object) -> DemoSpec:
        """A spec whose history ends at this moment in the shop's time zone: nothing dated in the future."""
        moment = (now or datetime.now(UTC)).astimezone(tz).replace(microsecond=0)
        return cls(end=moment, **sizes)  # type: ignore[arg-type]

    @property
    def start(self) -> datetime:
        """Local midnight `days` days before the end's day (the end itself when it is a midnight)."""
        midnight = self.end.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=self.days)

    @property
    def day_count(self) -> int:
        """Calendar days with orders: `days`, plus the end's own day up to now when it ends mid-day."""
        return self.days + (self.end != self.start + timedelta(days=self.days))


# -- customers -------------------------------------------------------------------------------------------
def _rng(spec: DemoSpec, *parts: object) -> random.Random:
    # Seeding with a str hashes it with SHA-512: stable across processes, unlike hash().
    return random.Random(":".join(str(p) for p in (spec.seed, *parts)))


@lru_cache(maxsize=16384)
def _person(spec: DemoSpec, index: int) -> dict:
    rng = _rng(spec, "customer", index)
    last_kanji, last = SURNAME_TABLE.pick(rng)
    given_kanji, given = rng.choice(FEMALE_NAMES if rng.random() < 0.62 else MALE_NAMES)
    national = mobile_digits(rng)
    opened = spec.start - timedelta(days=400)
    created = opened + timedelta(seconds=rng.randrange(int((spec.end - opened).total_seconds()) - 7 * 86400))
    prefecture, city, zip_code = rng.choice(PREFECTURES)
    return {
        "index": index,
        "last_name": last_kanji,
        "first_name": given_kanji,
        "romaji": (given, last),
        "national": national,
        "phone_style": PHONE_STYLE_TABLE.pick(rng),
        "has_phone": rng.random() < 0.75,
        "email": email_for(rng, given, last) if rng.random() < 0.88 else None,
        "shouting_email": rng.random() < 0.05,
        "created": created,
        "address": {"province": prefecture, "city": city, "zip": zip_code},
        "profile": PROFILE_TABLE.pick(rng),
        "favorite_store": STORE_TABLE.pick(rng),
        # Heavy-tailed activity: a few loyal regulars, a long tail of one-time buyers, some never buy.
        "activity": 0.0 if rng.random() < 0.12 else min(20.0, rng.lognormvariate(0.0, 1.1)),
        "duplicate_of": _duplicate_source(spec, index, rng),
    }


@lru_cache(maxsize=16384)
def _resolved(spec: DemoSpec, index: int) -> dict:
    """The person behind customer `index`, with a duplicate's details copied from its original."""
    person = _person(spec, index)
    dup = person["duplicate_of"]
    return person if dup is None else _as_duplicate(spec, person, dup)


def _duplicate_source(spec: DemoSpec, index: int, rng: random.Random) -> tuple[int, str] | None:
    if index < 20 or rng.random() >= spec.duplicate_ratio:
        return None
    return rng.randrange(index), rng.choice(["phone_format", "email_case"])


def customer_at(spec: DemoSpec, index: int) -> dict:
    """Customer number `index` as seeded into Shopify (REST field names)."""
    person = _resolved(spec, index)
    phone = format_phone(person["national"], person["phone_style"]) if person["has_phone"] else None
    email = person["email"]
    if email and person["shouting_email"]:
        local, _, domain = email.partition("@")
        email = f"{local.title()}@{domain.title()}"
    created = iso(person["created"])
    return {
        "id": CUSTOMER_ID_BASE + index,
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "email": email,
        "phone": phone,
        "created_at": created,
        "updated_at": created,
        "state": "enabled" if email else "disabled",
        "verified_email": bool(email),
        "tags": [],
        "currency": "JPY",
        "default_address": {
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "country": "Japan",
            "country_code": "JP",
            "phone": phone,
            **person["address"],
        },
    }


def _as_duplicate(spec: DemoSpec, person: dict, dup: tuple[int, str]) -> dict:
    """The same human registered twice (e.g. once online, once at a register), keyed slightly differently."""
    original = _resolved(spec, dup[0])
    person = dict(person, first_name=original["first_name"], last_name=original["last_name"])
    person["romaji"], person["address"] = original["romaji"], original["address"]
    if dup[1] == "phone_format":
        styles = [s for s, _ in PHONE_STYLES if s != original["phone_style"]]
        person |= {
            "national": original["national"],
            "has_phone": True,
            "email": None,
            "profile": "store_only",
        }
        person["phone_style"] = styles[person["index"] % len(styles)]
    else:
        email = original["email"] or email_for(_rng(spec, "dup-email", dup[0]), *original["romaji"])
        local, _, domain = email.partition("@")
        person |= {"email": f"{local.upper()}@{domain}", "has_phone": False, "profile": "online_only"}
        person["shouting_email"] = False
    person["created"] = max(person["created"], original["created"])
    return person


def iter_customers(spec: DemoSpec | None = None) -> Iterator[dict]:
    """Every customer, in id order."""
    spec = spec or DemoSpec()
    for index in range(spec.customers):
        yield customer_at(spec, index)


def duplicate_pairs(spec: DemoSpec | None = None) -> list[tuple[int, int, str]]:
    """(duplicate customer id, original customer id, "phone_format" | "email_case") for tests."""
    spec = spec or DemoSpec()
    pairs = []
    for index in range(spec.customers):
        dup = _person(spec, index)["duplicate_of"]
        if dup is not None:
            pairs.append((CUSTOMER_ID_BASE + index, CUSTOMER_ID_BASE + dup[0], dup[1]))
    return pairs


# -- orders --------------------------------------------------------------------------------------------------
class _CustomerPicker:
    """Weighted choice of a buyer per channel from compact arrays (no customer records kept in memory)."""

    def __init__(self, spec: DemoSpec) -> None:
        self.created = array("d")
        self.pools: dict[str, tuple[array, array]] = {c: (array("l"), array("d")) for c in CHANNEL_PROFILES}
        totals = dict.fromkeys(CHANNEL_PROFILES, 0.0)
        for index in range(spec.customers):
            person = _resolved(spec, index)
            self.created.append(person["created"].timestamp())
            if person["activity"] <= 0:
                continue
            for channel, profiles in CHANNEL_PROFILES.items():
                if person["profile"] in profiles:
                    totals[channel] += person["activity"]
                    self.pools[channel][0].append(index)
                    self.pools[channel][1].append(totals[channel])

    def pick(self, rng: random.Random, channel: str, when: datetime) -> int | None:
        """A customer who already had an account at `when`, or None (a guest) after a few tries."""
        members, cumulative = self.pools[channel]
        if not members:
            return None
        moment = when.timestamp()
        for _ in range(6):
            index = members[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
            if self.created[index] <= moment:
                return index
        return None


def _daily_counts(spec: DemoSpec, rng: random.Random) -> list[int]:
    """Orders per day: weekly rhythm, December and sale peaks, 30 % growth over the period."""
    weights = []
    for day in range(spec.day_count):
        date = spec.start + timedelta(days=day)
        season = {12: 1.6, 1: 1.3, 7: 1.2, 2: 0.8, 6: 0.9}.get(date.month, 1.0)
        weekday = 1.35 if date.weekday() >= 5 else 0.9
        weights.append(season * weekday * (1.0 + 0.3 * day / spec.days))
    scale = spec.orders / sum(weights)
    counts = []
    for weight in weights:
        expected = weight * scale
        counts.append(int(expected) + (rng.random() < expected - int(expected)))
    return counts


def _order_records(spec: DemoSpec) -> Iterator[tuple[dict, list[dict]]]:
    """(order as created, its later refunds) in processing order."""
    rng = _rng(spec, "orders")
    picker = _CustomerPicker(spec)
    number = itertools.count(1001)
    refund_ids = itertools.count(REFUND_ID_BASE + 1)
    for day, count in enumerate(_daily_counts(spec, rng)):
        midnight = spec.start + timedelta(days=day)
        moments = sorted(_moment(rng) for _ in range(count))
        for seconds in moments:
            when = midnight + timedelta(seconds=seconds)
            if when >= spec.end:
                break  # today's sales so far: nothing after the moment the history ends
            channel = "pos" if rng.random() < spec.pos_share else "web"
            buyer = None
            if channel == "web" or rng.random() >= spec.walk_in_ratio:
                buyer = picker.pick(rng, channel, when)
            store = None
            if channel == "pos":
                person = _resolved(spec, buyer) if buyer is not None else None
                favourite = person["favorite_store"] if person else None
                store = favourite if favourite and rng.random() < 0.8 else STORE_TABLE.pick(rng)
            order_number = next(number)
            customer = customer_at(spec, buyer) if buyer is not None else None
            order = build_order(spec, rng, order_number, when, store, customer)
            refunds = build_refunds(spec, rng, order, refund_ids)
            yield order, refunds


def _moment(rng: random.Random) -> int:
    """Seconds after midnight JST: shops open 10-21h, online peaks in the evening."""
    hour = rng.choices(
        range(24), weights=[1, 1, 0, 0, 0, 0, 1, 2, 3, 4, 6, 7, 8, 8, 7, 7, 8, 9, 10, 10, 9, 7, 4, 2]
    )[0]
    return hour * 3600 + rng.randrange(3600)


def iter_orders(spec: DemoSpec | None = None) -> Iterator[dict]:
    """Every order in its final state (refunds applied), oldest first, REST webhook-shaped."""
    for order, refunds in _order_records(spec or DemoSpec()):
        yield apply_refunds(order, refunds)


def apply_refunds(order: dict, refunds: list[dict]) -> dict:
    """The order as Shopify shows it after its refunds (current_* lowered, financial_status updated)."""
    if not refunds:
        return order
    refunded = sum(int(t["amount"]) for r in refunds for t in r["transactions"])
    current = max(0, int(order["total_price"]) - refunded)
    return order | {
        "refunds": refunds,
        "current_total_price": str(current),
        "current_total_price_set": money(current),
        "financial_status": "refunded" if current == 0 else "partially_refunded",
        "updated_at": refunds[-1]["created_at"],
    }


def iter_events(spec: DemoSpec | None = None) -> Iterator[tuple[str, str, dict]]:
    """(timestamp, topic, payload) as webhooks would arrive in time order: orders/create, refunds/create."""
    pending: list[tuple[str, int, dict]] = []
    tiebreak = itertools.count()
    for order, refunds in _order_records(spec or DemoSpec()):
        while pending and pending[0][0] <= order["created_at"]:
            at, _, refund = heapq.heappop(pending)
            yield at, "refunds/create", refund
        yield order["created_at"], "orders/create", order
        for refund in refunds:
            heapq.heappush(pending, (refund["created_at"], next(tiebreak), refund))
    while pending:
        at, _, refund = heapq.heappop(pending)
        yield at, "refunds/create", refund


# -- loading -------------------------------------------------------------------------------------
@dataclass
class DemoSummary:
    """What load_into put into the shop."""

    locations: int = 0
    customers: int = 0
    orders: int = 0
    pos_orders: int = 0
    walk_ins: int = 0
    refunds: int = 0
    cancelled: int = 0


def load_into(state, shop: str, scale: float = 1.0, spec: DemoSpec | None = None) -> DemoSummary:
    """Seed a shop of an EmulatorState with the demo retailer (locations, customers, orders, refunds)."""
    spec = (spec or DemoSpec()).scaled(scale)
    target = state.shop(shop)
    summary = DemoSummary()
    with state.lock:
        for store in STORES:
            target.add_location(
                store.name, id=store.id, address1=store.address1, city=store.city, province=store.province,
                zip=store.zip, created_at=iso(spec.start - timedelta(days=400)),
            )  # fmt: skip
            summary.locations += 1
        for customer in iter_customers(spec):
            target.add_customer(**customer)
            summary.customers += 1
        for order, refunds in _order_records(spec):
            target.add_order(order)
            for refund in refunds:
                target.add_refund(order["id"], refund)
            if refunds:
                # add_refund stamps the emulator's "now"; history keeps the refund's own date.
                target.update_order(order["id"], updated_at=refunds[-1]["created_at"])
            summary.orders += 1
            summary.pos_orders += order["source_name"] == "pos"
            summary.walk_ins += order["source_name"] == "pos" and order["customer"] is None
            summary.refunds += len(refunds)
            summary.cancelled += order["cancelled_at"] is not None
    return summary


__all__ = [
    "DEFAULT_END",
    "DemoSpec",
    "DemoSummary",
    "apply_refunds",
    "customer_at",
    "duplicate_pairs",
    "iter_customers",
    "iter_events",
    "iter_orders",
    "load_into",
]
