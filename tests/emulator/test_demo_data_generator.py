"""Demo data: deterministic, Shopify-shaped, and with the mix of channels, refunds and duplicates promised."""

import itertools
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from emulator.demo_catalog import STORES
from emulator.demo_data import DemoSpec, duplicate_pairs, iter_customers, iter_events, iter_orders, load_into
from emulator.state import EmulatorState

# Shopify's sample orders/create body (vendored beside the webhook tests).
SAMPLE = json.loads(
    (Path(__file__).resolve().parents[1] / "unit" / "webhooks" / "data" / "orders_create.json").read_text()
)
SMALL = DemoSpec(customers=300, orders=3000)


@pytest.fixture(scope="module")
def default_orders() -> list[dict]:
    return list(iter_orders(DemoSpec()))


def test_same_seed_gives_identical_data_and_another_seed_does_not():
    first = json.dumps([list(iter_customers(SMALL)), list(itertools.islice(iter_orders(SMALL), 500))])
    again = json.dumps([list(iter_customers(SMALL)), list(itertools.islice(iter_orders(SMALL), 500))])
    other_spec = DemoSpec(customers=300, orders=3000, seed=7)
    other = json.dumps(
        [list(iter_customers(other_spec)), list(itertools.islice(iter_orders(other_spec), 500))]
    )

    assert first == again
    assert first != other


def test_orders_use_only_fields_of_shopifys_orders_create_payload():
    for order in itertools.islice(iter_orders(SMALL), 400):
        assert set(order) <= set(SAMPLE)
        for item in order["line_items"]:
            assert set(item) <= set(SAMPLE["line_items"][0])
        if order["customer"]:
            assert set(order["customer"]) <= set(SAMPLE["customer"])


def test_default_size_and_period(default_orders):
    spec = DemoSpec()
    assert 19_600 <= len(default_orders) <= 20_400
    dates = [datetime.fromisoformat(o["processed_at"]) for o in default_orders]
    assert dates == sorted(dates)
    assert spec.start <= dates[0] < spec.start + timedelta(days=3)
    assert spec.end - timedelta(days=3) < dates[-1] <= spec.end
    assert len({o["id"] for o in default_orders}) == len(default_orders)


def test_channel_mix_stores_and_walk_ins(default_orders):
    pos = [o for o in default_orders if o["source_name"] == "pos"]
    web = [o for o in default_orders if o["source_name"] == "web"]

    assert len(pos) + len(web) == len(default_orders)
    assert 0.50 <= len(pos) / len(default_orders) <= 0.60
    assert all(o["location_id"] in {s.id for s in STORES} for o in pos)
    assert all(o["location_id"] is None for o in web)
    per_store = Counter(o["location_id"] for o in pos)
    assert per_store[STORES[0].id] > per_store[STORES[1].id] > per_store[STORES[2].id] > 0
    walk_ins = sum(o["customer"] is None for o in pos)
    assert 0.25 <= walk_ins / len(pos) <= 0.37
    assert sum(o["customer"] is None for o in web) / len(web) < 0.03


def test_amounts_are_whole_yen_and_realistic(default_orders):
    totals = sorted(int(o["total_price"]) for o in default_orders)

    assert all(re.fullmatch(r"\d+", o["current_total_price"]) for o in default_orders)
    assert all(o["currency"] == "JPY" and o["taxes_included"] for o in default_orders)
    assert 4_000 <= totals[len(totals) // 2] <= 15_000
    assert totals[0] >= 600 and totals[-1] <= 200_000


def test_refunds_and_cancellations(default_orders):
    refunded = [o for o in default_orders if o["refunds"]]
    cancelled = [o for o in default_orders if o["cancelled_at"]]

    assert 0.025 <= len(refunded) / len(default_orders) <= 0.055
    assert 0.005 <= len(cancelled) / len(default_orders) <= 0.02
    statuses = Counter(o["financial_status"] for o in refunded)
    assert statuses["refunded"] > 0 and statuses["partially_refunded"] > 0
    for order in refunded:
        paid_back = sum(Decimal(t["amount"]) for r in order["refunds"] for t in r["transactions"])
        assert Decimal(order["current_total_price"]) == Decimal(order["total_price"]) - paid_back
        assert order["refunds"][0]["created_at"] > order["processed_at"]
    assert all(o["financial_status"] == "voided" for o in cancelled)


def test_phones_come_in_mixed_formats():
    phones = [c["phone"] for c in iter_customers(DemoSpec()) if c["phone"]]
    shapes = Counter(
        "hyphen" if re.fullmatch(r"0\d0-\d{4}-\d{4}", p)
        else "bare" if re.fullmatch(r"0\d{10}", p)
        else "intl_spaced" if re.fullmatch(r"\+81 \d0-\d{4}-\d{4}", p)
        else "e164" if re.fullmatch(r"\+81\d{10}", p)
        else "other"
        for p in phones
    )  # fmt: skip

    assert shapes["other"] == 0
    assert min(shapes[s] for s in ("hyphen", "bare", "intl_spaced", "e164")) > 100


def test_some_customers_are_the_same_person_twice():
    customers = {c["id"]: c for c in iter_customers(DemoSpec())}
    pairs = duplicate_pairs(DemoSpec())

    assert 30 <= len(pairs) <= 100
    kinds = Counter(kind for _, _, kind in pairs)
    assert kinds["phone_format"] > 5 and kinds["email_case"] > 5
    for dup_id, original_id, kind in pairs:
        dup, original = customers[dup_id], customers[original_id]
        assert (dup["last_name"], dup["first_name"]) == (original["last_name"], original["first_name"])
        if kind == "phone_format" and original["phone"]:
            assert dup["phone"] != original["phone"]
            assert re.sub(r"\D", "", dup["phone"])[-10:] == re.sub(r"\D", "", original["phone"])[-10:]
        if kind == "email_case":
            assert dup["email"] != original["email"]
            assert original["email"] is None or dup["email"].lower() == original["email"].lower()


def test_emails_use_reserved_example_domains_only():
    domains = {c["email"].rsplit("@", 1)[1].lower() for c in iter_customers(DemoSpec()) if c["email"]}

    assert domains and all(d == "example.com" or d.startswith("example.") for d in domains)


def test_events_arrive_in_time_order_with_refunds_after_their_orders():
    events = list(iter_events(SMALL))

    assert [at for at, _, _ in events] == sorted(at for at, _, _ in events)
    created = {}
    for at, topic, payload in events:
        if topic == "orders/create":
            assert payload["refunds"] == []
            created[payload["id"]] = at
        else:
            assert topic == "refunds/create" and payload["order_id"] in created


def test_scaling_streams_without_building_everything():
    spec = DemoSpec().scaled(10)

    first = list(itertools.islice(iter_orders(spec), 50))

    assert spec.customers == 20_000 and spec.orders == 200_000
    assert len(first) == 50


def test_load_into_seeds_locations_customers_orders_and_refunds():
    state = EmulatorState("test-api-key", "test-api-secret")
    shop = state.install_shop("demo.myshopify.com")

    summary = load_into(state, "demo.myshopify.com", spec=SMALL)

    assert summary.locations == 3 and len(shop.locations) == 3
    assert {loc["name"] for loc in shop.locations.values()} == {"渋谷店", "梅田店", "福岡天神店"}
    assert summary.customers == len(shop.customers) == 300
    assert summary.orders == len(shop.orders)
    assert summary.refunds > 0 and summary.walk_ins > 0 and summary.pos_orders > 0
    refunded = next(o for o in shop.orders.values() if o["refunds"])
    paid_back = sum(Decimal(t["amount"]) for t in refunded["refunds"][0]["transactions"])
    assert Decimal(refunded["current_total_price"]) == Decimal(refunded["total_price"]) - paid_back
    assert refunded["updated_at"] == refunded["refunds"][-1]["created_at"]
    buyer = next(o["customer"]["id"] for o in shop.orders.values() if o["customer"] and not o["refunds"])
    assert shop.customer_stats(buyer)["orders_count"] >= 1


def _moments(spec: DemoSpec) -> list[datetime]:
    """Every timestamp the generator writes: customers, orders (incl. cancel/update) and refunds."""
    out = [datetime.fromisoformat(c["created_at"]) for c in iter_customers(spec)]
    for _, _, payload in iter_events(spec):
        for key in ("created_at", "processed_at", "updated_at", "cancelled_at"):
            if payload.get(key):
                out.append(datetime.fromisoformat(payload[key]))
    return out


@pytest.mark.parametrize("hour", [0, 9, 14, 23])
def test_a_history_ending_now_never_holds_a_future_moment(hour):
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2026, 12, 6, hour, 41, 7, tzinfo=tokyo)
    spec = DemoSpec.ending_now(tokyo, now=now, customers=200, orders=4000, days=60)
    moments = _moments(spec)
    assert max(moments) <= now
    # ...and it reaches up to now: today's sales so far (none yet just after midnight), yesterday's in full.
    orders = [datetime.fromisoformat(o["processed_at"]) for o in iter_orders(spec)]
    assert max(orders) > now - timedelta(days=1)
    assert spec.start == datetime(2026, 10, 7, tzinfo=tokyo)


def test_a_history_ending_now_in_another_time_zone_ends_at_that_zones_now():
    la = ZoneInfo("America/Los_Angeles")
    now = datetime(2026, 12, 6, 10, 0, tzinfo=la)
    spec = DemoSpec.ending_now(la, now=now.astimezone(ZoneInfo("UTC")), customers=50, orders=500, days=30)
    assert spec.end == now and spec.end.utcoffset() == timedelta(hours=-8)
    assert max(_moments(spec)) <= now
