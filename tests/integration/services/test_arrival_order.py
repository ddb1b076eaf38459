"""Whatever order events arrive in, the result is the one of the same events in time order.

Random histories (orders, edits, partial and full refunds, cancellations, backdated POS sales, a customer
merge, duplicates) are delivered twice: once in time order, each as it happens, and once shuffled, all late.
Both must give the same ledger entries with their effective times, lots, balances, ranks, earning terms,
month-end figures and rank snapshots, and metafield projection.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.customers.events import apply_merge
from app.domain.events import CustomerMergeEvent, PurchaseEvent, RefundEvent
from app.members.projection import project
from app.models import LedgerPosting, LedgerTransaction, Member, PointLot, Purchase
from app.models.rank import RankSnapshot
from app.models.rewards import Campaign, CampaignAward
from app.points.purchases import apply_purchase, apply_refund
from app.points.ranks import snapshot_month_end
from app.points.upkeep import refresh_shop
from scripts.pgtemp import backend
from tests.integration.services.factories import at, order, refund
from tests.integration.services.ledger_checks import assert_ledger_invariants

CUSTOMERS = ("A", "B", "C")
END_DAY = 900  # every history is looked at on this day, long after its last event
EXAMPLES = 200 if backend() != "postgres" else int(os.environ.get("TSUNAGU_PG_MACHINE_EXAMPLES", "25"))
Delivery = tuple[float, Any]  # (the instant it happened, in days after T0; the event)


@st.composite
def histories(draw) -> list[Delivery]:
    """Events of up to six orders of three customers, with edits, refunds, cancellations and a merge."""
    events: list[Delivery] = []
    for n in range(draw(st.integers(1, 6))):
        oid = f"o{n}"
        customer = draw(st.sampled_from(CUSTOMERS))
        day = draw(st.integers(0, 760))
        gross = draw(st.sampled_from([800, 3000, 12000, 25000, 40000, 120000]))
        pos = draw(st.booleans())
        kwargs = {"customer": customer, "day": day, "pos_location": "7" if pos else None}
        events.append((day, order(oid, gross, **kwargs)))
        version = day
        if draw(st.booleans()):  # an edit: a newer snapshot with another amount
            version += draw(st.integers(1, 5))
            gross = draw(st.sampled_from([500, 9000, 30000]))
            events.append((version, order(oid, gross, version=version, **kwargs)))
        refunds: list[RefundEvent] = []
        left = Decimal(gross)
        for k in range(draw(st.integers(0, 2))):
            share = draw(st.sampled_from([Decimal("0.1"), Decimal("0.5"), Decimal("1")]))
            amount = (left * share).quantize(Decimal("1"))
            if amount <= 0:
                break
            left -= amount
            rday = version + draw(st.integers(1, 60))
            refunds.append(refund(f"{oid}r{k}", oid, amount, day=rday))
            events.append((rday, refunds[-1]))
            if draw(st.booleans()):  # Shopify also sends orders/updated with the refunds on it
                version = rday
                events.append((rday, order(oid, gross, version=rday, refunds=tuple(refunds), **kwargs)))
        if draw(st.booleans()):
            version += draw(st.integers(1, 30))
            events.append(
                (
                    version,
                    order(oid, gross, version=version, cancelled=True, refunds=tuple(refunds), **kwargs),
                )
            )
    if draw(st.booleans()):
        events.append((draw(st.integers(0, 800)), CustomerMergeEvent(surviving_id="B", merged_ids=("A",))))
    duplicates = draw(st.lists(st.integers(0, len(events) - 1), max_size=3))
    return events + [events[i] for i in duplicates]


def deliver(session, shop, event: Any, now) -> None:
    if isinstance(event, PurchaseEvent):
        apply_purchase(session, shop, event, now=now)
    elif isinstance(event, RefundEvent):
        apply_refund(session, shop, event, now=now)
    else:
        apply_merge(session, shop, event, now=now)


def stable_key(key: str, who: dict[int, str], names: dict[int, str]) -> str:
    """Campaign bonus keys name their campaign and member by row id: name them by what stays the same."""
    parts = key.split(":")
    first = 1 if parts[0] == "campaign" else 0
    if first == 0 and not parts[0].isdigit():
        return key
    parts[first] = names[int(parts[first])]
    parts[first + 1] = str(who.get(int(parts[first + 1])))
    return ":".join(parts)


def state(session, shop) -> dict[str, Any]:
    """Everything a reader can see, keyed by what stays the same across runs (never row ids or numbers)."""
    refresh_shop(session, shop, at(END_DAY))
    assert_ledger_invariants(session, shop)
    members = list(session.scalars(select(Member).where(Member.shop_id == shop.id)))
    who = {m.id: m.shopify_customer_id for m in members}
    names = {c.id: c.name for c in session.scalars(select(Campaign))}
    legs: dict[int, Counter] = {}
    for txn_id, account, member_id, points in session.execute(
        select(
            LedgerPosting.transaction_id, LedgerPosting.account, LedgerPosting.member_id, LedgerPosting.points
        )
    ):
        legs.setdefault(txn_id, Counter())[(account, who.get(member_id), points)] += 1
    ledger = sorted(
        (
            t.kind,
            t.source,
            stable_key(t.source_id, who, names) if t.source in ("campaign", "lot") else t.source_id,
            t.effective_at,
            who.get(t.member_id),
            sorted(legs.get(t.id, {}).items()),
        )
        for t in session.scalars(select(LedgerTransaction).where(LedgerTransaction.kind != "merge"))
    )
    lots = sorted(
        (
            who[lot.member_id],
            stable_key(lot.key, who, names),
            lot.pending,
            lot.remaining,
            lot.matured_at,
            lot.expired_at,
            lot.expires_at,
        )
        for lot in session.scalars(select(PointLot))
    )
    balances = {
        who[m.id]: (
            m.status,
            m.rank,
            m.points_pending,
            m.points_available,
            m.points_held,
            m.points_debt,
            m.points_flag,
            m.last_earning_at,
        )
        for m in members
    }
    terms = {
        p.source_id: (who[p.member_id], p.earn_rank, p.earn_multiplier, p.points)
        for p in session.scalars(select(Purchase))
    }
    for period in (date(2026, 12, 1), date(2027, 6, 1), date(2028, 3, 1)):
        snapshot_month_end(session, shop, period)
    snapshots = sorted(
        (who[s.member_id], s.period, s.rank, s.metric) for s in session.scalars(select(RankSnapshot))
    )
    months = Counter()
    for kind, _source, _sid, at_, _member, entry_legs in ledger:
        for (account, _who, points), count in entry_legs:
            months[(at_.strftime("%Y-%m"), kind, account)] += points * count
    projection = {
        who[member_id]: {k: v for k, v in p.metafields.items() if k != "member_number"} | {"tags": p.tags}
        for member_id, p in project(session, shop, members, at(END_DAY)).items()
    }
    awards = sorted(
        (who[a.member_id], names[a.campaign_id], a.occasion, a.purchase_key, a.occurred_at)
        for a in session.scalars(select(CampaignAward).where(CampaignAward.status == "granted"))
        if a.member_id in who and balances[who[a.member_id]][0] == "active"
    )
    return {
        "ledger": ledger,
        "awards": awards,
        "lots": lots,
        "balances": balances,
        "terms": terms,
        "snapshots": snapshots,
        "months": dict(months),
        "projection": projection,
    }


def run(session, shop, deliveries: list[Delivery], in_time: bool, campaigns: bool = False) -> dict[str, Any]:
    """Deliver in a savepoint and read the result; the savepoint is rolled back for the next run."""
    savepoint = session.begin_nested()
    try:
        if campaigns:
            start_campaigns(session, shop)
        for day, event in deliveries:
            # In time order each event arrives as it happens; shuffled, everything arrives late.
            deliver(session, shop, event, at(day) + timedelta(minutes=1) if in_time else at(END_DAY - 1))
        return state(session, shop)
    finally:
        savepoint.rollback()
        session.expire_all()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories(), data=st.data())
def test_any_arrival_order_gives_the_time_ordered_result(session, shop, history, data):
    assert_same_in_any_order(session, shop, history, data)


def assert_same_in_any_order(session, shop, history, data, campaigns: bool = False) -> None:
    in_time = sorted(history, key=lambda d: d[0])
    shuffled = data.draw(st.permutations(history))
    expected = run(session, shop, in_time, in_time=True, campaigns=campaigns)
    actual = run(session, shop, shuffled, in_time=False, campaigns=campaigns)
    for key in expected:
        assert actual[key] == expected[key], key


def start_campaigns(session, shop) -> None:
    """Campaigns of every purchase-driven kind and a lapsing one, without budgets (whose first come, first
    served is the one thing that depends on arrival order) and without a holdout."""
    common = {"shop_id": shop.id, "status": "active", "started_at": at(0), "conditions": {}}
    session.add_all(
        [
            Campaign(name="2x store", kind="multiplier", multiplier=Decimal(2), starts_at=at(100),
                     ends_at=at(500), **common | {"conditions": {"channels": ["pos"]}}),
            Campaign(name="first visit", kind="first_store_visit", bonus_points=500, starts_at=at(50),
                     ends_at=None, **common),
            Campaign(name="store to online", kind="first_online_after_store", bonus_points=300,
                     starts_at=at(0), ends_at=at(700), **common),
            Campaign(name="win back", kind="lapsing", bonus_points=200, lapse_days=120, bonus_expiry_days=60,
                     starts_at=at(200), ends_at=at(800), **common),
        ]
    )  # fmt: skip
    session.flush()


@settings(
    max_examples=max(EXAMPLES // 4, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories(), data=st.data())
def test_campaign_bonuses_do_not_depend_on_arrival_order_either(session, shop, history, data):
    assert_same_in_any_order(session, shop, history, data, campaigns=True)


def test_a_sale_from_400_days_ago_arriving_after_a_recent_one_still_expires(session, shop):
    """The case arrival order used to get wrong: a late old sale must not revive its long-expired points."""
    recent, old = order("recent", 10000, day=500), order("old", 20000, day=100)
    time_ordered = run(session, shop, [(100, old), (500, recent)], in_time=True)
    late = run(session, shop, [(500, recent), (100, old)], in_time=False)
    assert late == time_ordered
    expiries = [e for e in late["ledger"] if e[0] == "expire" and e[2] == "shopify:old"]
    assert [e[3] for e in expiries] == [at(100) + timedelta(days=365)]  # at its own expiry instant
