"""The register shows the shared balance: every ledger change reaches the Smaregi member within 2 s, points
used at the register are spent once (and given back once on a void), online members are created in Smaregi."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent, CustomerRef, PurchaseEvent
from app.integrations.periodic import push_tick
from app.integrations.smaregi.reconcile import reconcile_shop
from app.members.projection import project
from app.models.integrations import SmaregiCustomer
from app.models.ledger import LedgerTransaction
from app.models.member import Member
from app.points.engine import rebuild_members
from app.points.purchases import apply_purchase
from app.points.spending import spend
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, store_member, work

FRESHNESS = 2.0  # seconds: the register may lag the ledger by at most this


def register_points(smaregi, customer_id: str) -> int:
    return int(smaregi.contracts[CONTRACT].customers[customer_id]["point"])


def linked_member(client, session, shop, smaregi) -> tuple[str, Member]:
    """An online customer (7001) whose Smaregi member (C0001) identity linked by phone."""
    apply_customer(session, shop, CustomerEvent("create", "7001", phone="+81 90 1234 5678"))
    customer_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(client, smaregi, "pos:customers", "created", [customer_id])
    work(session)
    member = store_member(session, shop, "C0001")
    assert member.shopify_customer_id == "7001"
    return customer_id, member


def test_a_store_sale_reaches_the_register_as_matured_points(client, session, shop, connected, smaregi):
    customer_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    sold_at = datetime.now(UTC) - timedelta(days=20)  # old enough for its points to have matured
    head = smaregi.ring_sale(CONTRACT, "1", 30000, sold_at, customer_id)
    started = time.monotonic()
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    elapsed = time.monotonic() - started
    member = store_member(session, shop, "C0001")
    assert member.points_available == 300
    assert register_points(smaregi, customer_id) == 300 and elapsed < FRESHNESS
    expires = smaregi.contracts[CONTRACT].customers[customer_id].get("pointExpireDate")
    assert expires is not None and expires > sold_at.date().isoformat()


def test_online_earn_expiry_and_redemption_reach_the_register(client, session, shop, connected, smaregi):
    customer_id, member = linked_member(client, session, shop, smaregi)
    ordered_at = datetime.now(UTC) - timedelta(days=20)
    apply_purchase(
        session,
        shop,
        PurchaseEvent(
            source="shopify",
            source_id="5001",
            shop_domain=shop.domain,
            customer_ref=CustomerRef(shopify_customer_id="7001"),
            currency=shop.currency,
            gross_amount=Decimal("20000"),
            processed_at=ordered_at,
            source_updated_at=ordered_at,
            items_count=1,
            source_name="web",
        ),
    )
    session.commit()
    started = time.monotonic()
    push_tick()
    assert time.monotonic() - started < FRESHNESS
    session.refresh(member)
    assert member.points_available == 200
    assert register_points(smaregi, customer_id) == member.points_available

    spend(session, member, 50, source="reward", source_id="redeem-1", now=datetime.now(UTC))
    session.commit()
    push_tick()
    assert register_points(smaregi, customer_id) == member.points_available == 150

    rebuild_members(session, shop, [member.id], datetime.now(UTC) + timedelta(days=800))  # every lot expired
    session.commit()
    push_tick()
    session.refresh(member)
    assert member.points_available == 0
    assert register_points(smaregi, customer_id) == 0

    smaregi.requests.clear()
    push_tick()  # nothing changed: no Smaregi call at all
    assert smaregi.requests == []


def test_points_used_at_the_register_are_spent_once_and_given_back_once(
    client, session, shop, connected, smaregi
):
    customer_id, member = linked_member(client, session, shop, smaregi)
    first = smaregi.ring_sale(CONTRACT, "1", 30000, datetime.now(UTC) - timedelta(days=20), customer_id)
    deliver(client, smaregi, "pos:transactions", "created", [first])
    work(session)
    assert register_points(smaregi, customer_id) == 300

    paid_at = datetime.now(UTC) - timedelta(hours=1)
    head = smaregi.ring_sale(CONTRACT, "1", 1000, paid_at, customer_id, spend_points=120)
    assert register_points(smaregi, customer_id) == 180  # the register took them itself
    for _ in range(2):  # Smaregi redelivers
        deliver(client, smaregi, "pos:transactions", "created", [head])
        work(session)
    spends = session.scalars(
        select(LedgerTransaction).where(
            LedgerTransaction.source == "smaregi", LedgerTransaction.kind == "spend"
        )
    ).all()
    assert [(t.source_id, t.effective_at) for t in spends] == [(head, paid_at.replace(microsecond=0))]
    member = store_member(session, shop, "C0001")
    balance = project(session, shop, [member], datetime.now(UTC))[member.id].metafields["points_balance"]
    assert member.points_available == 180 == register_points(smaregi, customer_id) == int(balance.value)

    void = smaregi.void(CONTRACT, head, datetime.now(UTC))
    for _ in range(2):
        deliver(client, smaregi, "pos:transactions", "created", [void])
        work(session)
    given_back = session.scalar(
        select(func.count()).where(LedgerTransaction.source == "smaregi", LedgerTransaction.kind == "adjust")
    )
    member = store_member(session, shop, "C0001")
    balance = project(session, shop, [member], datetime.now(UTC))[member.id].metafields["points_balance"]
    assert given_back == 1
    assert member.points_available == 300 == register_points(smaregi, customer_id) == int(balance.value)


def test_online_members_are_created_in_smaregi_with_their_member_number(session, shop, connected, smaregi):
    connected.export_members = True
    apply_customer(session, shop, CustomerEvent("create", "7002"))
    session.commit()
    push_tick()
    push_tick()  # idempotent: nothing created twice
    member = session.scalar(select(Member).where(Member.shopify_customer_id == "7002"))
    customers = [
        c for c in smaregi.contracts[CONTRACT].customers.values() if c["customerCode"] == member.member_number
    ]
    assert len(customers) == 1 and customers[0]["rank"] == "1"  # the lowest tier's Smaregi rank code
    row = session.scalar(select(SmaregiCustomer))
    assert (row.customer_id, row.pushed_version) == (customers[0]["customerId"], member.sync_version)
    assert store_member(session, shop, member.member_number).id == member.id


def test_reconciliation_repairs_a_register_balance_that_drifted(client, session, shop, connected, smaregi):
    customer_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    head = smaregi.ring_sale(CONTRACT, "1", 30000, datetime.now(UTC) - timedelta(days=20), customer_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    smaregi.contracts[CONTRACT].customers[customer_id]["point"] = "9999"  # staff typed over it
    reconcile_shop(session, shop)
    assert (
        register_points(smaregi, customer_id) == store_member(session, shop, "C0001").points_available == 300
    )
    smaregi.requests.clear()
    reconcile_shop(session, shop)  # in agreement now: read, nothing written
    assert not [r for r in smaregi.requests if r[0] == "PATCH"]
