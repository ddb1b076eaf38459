"""Set-based ingest: a chunk of order and refund events gives exactly what applying them one by one gives."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.customers.events import apply_customer, apply_merge
from app.customers.ingest import ingest_customers
from app.domain.events import CustomerEvent, CustomerMergeEvent, PurchaseEvent, RefundEvent
from app.members.identity import customer_hash
from app.models import LedgerPosting, LedgerTransaction, Member, PointLot
from app.models.member import CustomerTombstone, ExternalLink
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import ShopLocation
from app.points.ingest.orders import ingest_orders
from app.points.purchases import apply_purchase, apply_refund
from tests.integration.services.factories import at, order, refund
from tests.integration.services.ledger_checks import assert_ledger_invariants

NOW = at(45)
CUSTOMERS = ["c1", "c2", "c3", "c9", None]  # c1 is stored, c3 merged into c2, c9 redacted, None a walk-in
ORDERS = ["o1", "o2", "o3", "o4", "o5"]  # o1 is stored for c1, o4 has a refund stored before it


def _labels(session) -> dict[int, str]:
    """A stable name per member (ids and member numbers differ between two runs)."""
    labels = {}
    for member in session.scalars(select(Member)):
        codes = sorted(session.scalars(select(ExternalLink.code).where(ExternalLink.member_id == member.id)))
        labels[member.id] = member.shopify_customer_id or f"store:{','.join(c or '' for c in codes)}"
    return labels


def state(session) -> dict[str, object]:
    """Everything a reader of the ledger sees, keyed by stable names."""
    session.flush()
    name = _labels(session)
    purchases = session.scalars(select(Purchase)).all()
    by_purchase = {p.id: p.source_id for p in purchases}
    legs: dict[int, list[tuple[str, str | None, int]]] = {}
    for leg in session.scalars(select(LedgerPosting)):
        legs.setdefault(leg.transaction_id, []).append(
            (leg.account, name.get(leg.member_id) if leg.member_id else None, leg.points)
        )
    return {
        "members": sorted(
            (
                name[m.id],
                m.status,
                name.get(m.merged_into_id) if m.merged_into_id else None,
                m.points_pending,
                m.points_available,
                m.points_held,
                m.points_debt,
                m.points_flag,
                m.rank,
                m.last_earning_at,
                m.next_due_at,
                m.phone_hash,
                m.email_hash,
            )
            for m in session.scalars(select(Member))
        ),
        "purchases": sorted(
            (
                p.source,
                p.source_id,
                name[p.member_id],
                p.channel,
                p.location_key,
                p.location_name,
                p.gross_amount,
                p.processed_at,
                p.source_updated_at,
                p.cancelled,
                p.cancelled_at,
                p.items_count,
                p.earn_rank,
                p.earn_multiplier,
                p.points,
                p.earn_rate,
            )
            for p in purchases
        ),
        "refunds": sorted(
            (
                r.source,
                r.source_id,
                r.order_source_id,
                by_purchase.get(r.purchase_id),
                r.amount,
                r.processed_at,
            )
            for r in session.scalars(select(PurchaseRefund))
        ),
        "ledger": sorted(
            (
                name.get(t.member_id),
                t.source,
                t.source_id,
                t.kind,
                t.effective_at,
                by_purchase.get(t.purchase_id),
                tuple(sorted(legs.get(t.id, []), key=repr)),
            )
            for t in session.scalars(select(LedgerTransaction))
        ),
        "lots": sorted(
            (
                name[lot.member_id],
                lot.key,
                by_purchase.get(lot.purchase_id),
                lot.earned_at,
                lot.matures_at,
                lot.pending,
                lot.remaining,
                lot.matured_at,
                lot.expired_at,
                lot.points_expired,
                lot.expires_at,
            )
            for lot in session.scalars(select(PointLot))
        ),
        "locations": sorted((row.location_id, row.name) for row in session.scalars(select(ShopLocation))),
    }


def seed(session, shop) -> None:
    """What is stored before the chunk: a member with an order, a merge, a redaction, an early refund."""
    apply_purchase(session, shop, order("o1", 4000, customer="c1", day=1, version=1), now=at(2))
    apply_purchase(session, shop, order("o9", 3000, customer="c3", day=2), now=at(2))
    apply_merge(session, shop, CustomerMergeEvent("c2", ("c3",), source_id="m1"), now=at(3))
    session.add(CustomerTombstone(shop_id=shop.id, customer_hash=customer_hash(shop, "c9")))
    apply_refund(session, shop, refund("o4-r0", "o4", 500, day=4), now=at(4))
    session.flush()


def one_by_one(session, shop, events) -> None:
    for event in events:
        if isinstance(event, RefundEvent):
            apply_refund(session, shop, event, now=NOW)
        else:
            apply_purchase(session, shop, event, now=NOW)


def compare(session, shop, events) -> dict[str, object]:
    """Both ways from the same stored state; asserts they agree and returns the state."""
    outer = session.begin_nested()
    seed(session, shop)
    first = session.begin_nested()
    one_by_one(session, shop, events)
    expected = state(session)
    first.rollback()
    second = session.begin_nested()
    touched = ingest_orders(session, shop, events, now=NOW)
    assert_ledger_invariants(session, shop)  # after every import: books, balances, lots, reversals
    got = state(session)
    names = _labels(session)
    second.rollback()
    outer.rollback()
    for part in expected:
        assert got[part] == expected[part], part
    assert all(names[m] != "c9" for m in touched)
    return got


@st.composite
def refunds_of(draw, order_id: str) -> tuple[RefundEvent, ...]:
    ks = draw(st.sets(st.integers(0, 3), max_size=2))
    return tuple(
        refund(f"{order_id}-r{k}", order_id, draw(st.integers(1, 20)) * 100, day=draw(st.integers(0, 30)))
        for k in sorted(ks)
    )


@st.composite
def an_event(draw) -> PurchaseEvent | RefundEvent:
    order_id = draw(st.sampled_from(ORDERS))
    if draw(st.integers(0, 4)) == 0:
        k = draw(st.integers(0, 3))
        return refund(
            f"{order_id}-r{k}", order_id, draw(st.integers(1, 20)) * 100, day=draw(st.integers(0, 30))
        )
    customer = draw(st.sampled_from(CUSTOMERS))
    code = draw(st.sampled_from([None, None, None, "A-1"])) if customer is None else None
    day = draw(st.integers(0, 20))
    store = draw(st.sampled_from([None, "L1", "L2"]))
    event = order(
        order_id,
        draw(st.integers(0, 200)) * 100,
        customer=customer,
        code=code,
        phone=draw(st.sampled_from([None, "090-1111-2222"])),
        day=day,
        version=day + draw(st.integers(0, 5)),
        pos_location=store,
        store_name=draw(st.sampled_from([None, f"Store {store}"])) if store else None,
        cancelled=draw(st.booleans()) and draw(st.booleans()),
        refunds=draw(refunds_of(order_id)),
    )
    if draw(st.integers(0, 9)) == 0:
        from dataclasses import replace

        event = replace(event, test=True)
    return event


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(events=st.lists(an_event(), min_size=1, max_size=14))
def test_a_chunk_gives_what_one_by_one_gives(session, shop, events):
    compare(session, shop, events)


def test_refunds_before_their_order_duplicates_and_older_snapshots(session, shop):
    events = [
        refund("o2-r1", "o2", 1000, day=3),
        order("o2", 10000, customer="c2", day=1, version=2),
        order("o2", 90000, customer="c2", day=1, version=1),  # older: ignored, its refunds too
        order("o2", 8000, customer="c2", day=1, version=4, refunds=(refund("o2-r1", "o2", 1000, day=3),)),
        refund("o2-r1", "o2", 1000, day=3),  # once per refund id
        order("o4", 6000, customer="c5", day=2, pos_location="L1", store_name="Ginza"),
        order("o4", 6000, customer="c5", day=2, version=3, pos_location="L1"),  # keeps the store name
        order("o5", 2000, customer="c9", day=2),  # redacted customer: nothing stored
        order("o6", 2000, customer=None, day=2),  # walk-in
        order("o7", 2000, customer="c3", day=2),  # merged customer: credits the survivor
    ]
    got = compare(session, shop, events)
    purchases = {p[1]: p for p in got["purchases"]}  # type: ignore[union-attr]
    assert purchases["o2"][6] == Decimal("8000.00") and purchases["o7"][2] == "c2"
    assert purchases["o4"][5] == "Ginza" and "o5" not in purchases and "o6" not in purchases
    refunds = {r[1]: r for r in got["refunds"]}  # type: ignore[union-attr]
    assert refunds["o4-r0"][3] == "o4" and refunds["o2-r1"][3] == "o2"


def test_store_codes_and_phone_only_buyers_go_through_identity_matching(session, shop):
    events = [
        order("s1", 5000, customer=None, code="A-1", source="smaregi", phone="090-1111-2222"),
        order("o2", 3000, customer=None, phone="090-1111-2222", day=1),  # matches the store member
        order("o3", 3000, customer="c7", phone="090-1111-2222", day=2),  # the store member is this customer
        order("o5", 1000, customer="c8", day=3),
    ]
    compare(session, shop, events)


def test_a_chunk_costs_a_few_statements_not_a_few_per_order(session, shop, app):
    from sqlalchemy import event as sa_event

    events = [order(f"n{i}", 1000 + i, customer=f"k{i % 40}", day=i % 20) for i in range(200)]
    statements = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        touched = ingest_orders(session, shop, events, now=NOW)
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    assert len(touched) == 40
    assert session.scalar(select(func.count()).select_from(Purchase)) == 200
    # The engine's own posting inserts are its business (app/points/ledger_diff.py); the ingest's are few.
    ours = [s for s in statements if not s.startswith(("INSERT INTO ledger_", "INSERT INTO point_lots"))]
    from collections import Counter

    assert len(ours) < 40, Counter(s[:50] for s in ours).most_common(5)


def customer_state(session) -> list[tuple[object, ...]]:
    session.flush()
    name = _labels(session)
    return sorted(
        (name[m.id], m.status, m.phone_hash, m.email_hash, m.customer_updated_at, m.rank)
        for m in session.scalars(select(Member))
    )


@st.composite
def a_customer_event(draw) -> CustomerEvent:
    return CustomerEvent(
        kind=draw(st.sampled_from(["create", "update", "update", "delete"])),
        shopify_customer_id=draw(st.sampled_from(["c1", "c2", "c3", "c9", "c5", "c6"])),
        updated_at=at(draw(st.integers(0, 6))),
        email=draw(st.sampled_from([None, "a@example.com", "b@example.com"])),
        phone=draw(st.sampled_from([None, "090-1111-2222", "090-3333-4444"])),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(events=st.lists(a_customer_event(), min_size=1, max_size=12))
def test_a_chunk_of_customers_gives_what_one_by_one_gives(session, shop, events):
    outer = session.begin_nested()
    seed(session, shop)  # c1 stored, c3 merged into c2, c9 redacted
    # A store-only member sharing a phone with some of the events: those customers may be linked to it.
    apply_purchase(
        session, shop, order("s1", 1000, customer=None, code="A-1", source="smaregi", phone="090-3333-4444")
    )
    first = session.begin_nested()
    for event in events:
        apply_customer(session, shop, event, now=NOW)
    expected = customer_state(session)
    first.rollback()
    second = session.begin_nested()
    ingest_customers(session, shop, events, now=NOW)
    got = customer_state(session)
    second.rollback()
    outer.rollback()
    assert got == expected
