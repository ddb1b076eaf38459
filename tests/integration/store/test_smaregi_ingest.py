"""Smaregi sales, edits, voids and returns, duplicated and reordered, end in the right points and rank."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.history import rolling_spend
from app.integrations.smaregi.client import SmaregiClient, SmaregiError
from app.integrations.smaregi.ingest import apply_transaction, ingest_transaction
from app.integrations.smaregi.push import push_due
from app.members.records import member_facts
from app.models.integrations import SmaregiCustomer, SmaregiStore, SmaregiTransaction
from app.models.purchase import Purchase
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, store_member, work

SALE_AT = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)  # 14:00 JST


def customer(smaregi, code="C0001", mobile="090-1234-5678"):
    return smaregi.add_customer(CONTRACT, code, mobile=mobile, email="hanako@example.jp")


def points(session, shop, code="C0001"):
    member = store_member(session, shop, code)
    return member.points_pending + member.points_available


def spend(session, shop, code="C0001"):
    member = store_member(session, shop, code)
    return rolling_spend(member_facts(session, member), SALE_AT + timedelta(days=1))


def test_a_sale_credits_an_external_pos_purchase_with_its_store(client, session, shop, connected, smaregi):
    head = smaregi.ring_sale(CONTRACT, "1", 12000, SALE_AT, customer(smaregi), quantity=3)
    assert deliver(client, smaregi, "pos:transactions", "created", [head]).status_code == 200
    assert work(session) == 1

    purchase = session.scalar(select(Purchase).where(Purchase.source == "smaregi"))
    assert (purchase.source_id, purchase.channel, purchase.location_name) == (head, "external_pos", "渋谷店")
    assert (purchase.gross_amount, purchase.items_count, purchase.processed_at) == (
        Decimal("12000"),
        3,
        SALE_AT,
    )
    assert points(session, shop) == 120  # 1 point per 100 JPY at the lowest rank
    assert session.scalar(select(SmaregiTransaction.status)) == "applied"


def test_an_edited_receipt_is_credited_at_its_new_total(client, session, shop, connected, smaregi):
    head = smaregi.ring_sale(CONTRACT, "1", 12000, SALE_AT, customer(smaregi))
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    smaregi.clock = datetime.now(UTC) + timedelta(minutes=5)
    smaregi.edit(CONTRACT, head, 8000)
    deliver(client, smaregi, "pos:transactions", "edited", [head])
    work(session)
    assert points(session, shop) == 80
    assert spend(session, shop) == Decimal("8000")


@pytest.mark.parametrize("style", ["cancel_receipt", "in_place"])
def test_a_voided_receipt_ends_at_zero(client, session, shop, connected, smaregi, style):
    head = smaregi.ring_sale(CONTRACT, "1", 12000, SALE_AT, customer(smaregi))
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    smaregi.clock = datetime.now(UTC) + timedelta(minutes=5)
    if style == "cancel_receipt":
        ids = [smaregi.void(CONTRACT, head, SALE_AT + timedelta(minutes=10))]
    else:
        smaregi.void_in_place(CONTRACT, head)
        ids = [head]
    deliver(client, smaregi, "pos:transactions", "created", ids)
    work(session)
    assert points(session, shop) == 0
    assert spend(session, shop) == 0


def test_a_partial_return_reverses_in_proportion(client, session, shop, connected, smaregi):
    head = smaregi.ring_sale(CONTRACT, "1", 12000, SALE_AT, customer(smaregi))
    back = smaregi.ring_return(CONTRACT, head, 5000, SALE_AT + timedelta(hours=2))
    deliver(client, smaregi, "pos:transactions", "created", [head])
    deliver(client, smaregi, "pos:transactions", "created", [back])
    work(session)
    assert points(session, shop) == 70
    assert spend(session, shop) == Decimal("7000")
    kinds = dict(
        session.execute(select(SmaregiTransaction.transaction_head_id, SmaregiTransaction.kind)).all()
    )
    assert kinds == {head: "sale", back: "return"}


def _scenario(smaregi):
    """A sale edited up, a partial return and a second sale: three receipts, final state known."""
    member = customer(smaregi)
    first = smaregi.ring_sale(CONTRACT, "1", 20000, SALE_AT, member)
    smaregi.edit(CONTRACT, first, 25000)
    back = smaregi.ring_return(CONTRACT, first, 5000, SALE_AT + timedelta(hours=1))
    second = smaregi.ring_sale(CONTRACT, "1", 15000, SALE_AT + timedelta(hours=2), member)
    return [("created", first), ("edited", first), ("created", back), ("created", second)]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
def test_duplicated_and_reordered_deliveries_end_in_the_same_state(
    client, session, shop, connected, smaregi, order
):
    deliveries = _scenario(smaregi)
    for index in order:
        action, head = deliveries[index]
        deliver(client, smaregi, "pos:transactions", action, [head])
        deliver(client, smaregi, "pos:transactions", action, [head])  # a Smaregi retry with a new event id
        work(session)
    # 25,000 - 5,000 + 15,000 = 35,000: silver after the second sale, which earns at the rank held before it.
    assert spend(session, shop) == Decimal("35000")
    assert points(session, shop) == 200 + 150
    assert store_member(session, shop, "C0001").rank == "silver"
    assert session.scalar(
        select(Purchase.gross_amount).where(Purchase.source_id == deliveries[0][1])
    ) == Decimal("25000")


def test_an_older_snapshot_after_a_newer_one_changes_nothing(session, shop, connected, smaregi):
    head = smaregi.ring_sale(CONTRACT, "1", 12000, SALE_AT, customer(smaregi))
    client = SmaregiClient(connected)
    old = dict(client.get_transaction(head))
    smaregi.clock = datetime.now(UTC) + timedelta(minutes=5)
    smaregi.edit(CONTRACT, head, 9000)
    ingest_transaction(session, shop, client, head)
    apply_transaction(session, shop, client, old)  # e.g. a slow reconciliation page read before the edit
    assert points(session, shop) == 90


def test_rank_and_points_are_pushed_back_to_the_register(client, session, shop, connected, smaregi):
    member_id = customer(smaregi)
    head = smaregi.ring_sale(CONTRACT, "1", 30000, SALE_AT, member_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert smaregi.contracts[CONTRACT].customers[member_id]["rank"] == "2"  # the merchant's code for silver
    assert store_member(session, shop, "C0001").rank == "silver"
    back = smaregi.ring_return(CONTRACT, head, 10000, SALE_AT + timedelta(hours=1))
    deliver(client, smaregi, "pos:transactions", "created", [back])
    work(session)
    assert smaregi.contracts[CONTRACT].customers[member_id]["rank"] == "1"
    row = session.scalar(select(SmaregiCustomer))
    assert (row.pushed_rank, row.push_due, row.push_error) == ("1", False, None)


def test_a_failed_push_stays_due_and_visible_without_undoing_the_credit(
    client, session, shop, connected, smaregi
):
    member_id = customer(smaregi)
    head = smaregi.ring_sale(CONTRACT, "1", 30000, SALE_AT, member_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    smaregi.fail_methods = {"PATCH": 503}
    work(session)
    row = session.scalar(select(SmaregiCustomer))
    assert row.push_due and "503" in row.push_error
    assert points(session, shop) == 300
    smaregi.fail_methods = {}
    assert push_due(session, shop, SmaregiClient(connected)) == 1
    assert smaregi.contracts[CONTRACT].customers[member_id]["rank"] == "2"


def test_an_unknown_member_collects_points_as_a_store_member(client, session, shop, connected, smaregi):
    member_id = smaregi.add_customer(CONTRACT, "S9999", mobile="080-0000-1111")
    head = smaregi.ring_sale(CONTRACT, "1", 5000, SALE_AT, member_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    member = store_member(session, shop, "S9999")
    assert member is not None and member.shopify_customer_id is None
    # Pending or already available, depending on how long ago SALE_AT is from today's return window.
    assert member.points_pending + member.points_available == 50


def test_an_unknown_store_is_credited_and_named_once_smaregi_knows_it(
    client, session, shop, connected, smaregi
):
    member = customer(smaregi)
    first = smaregi.ring_sale(CONTRACT, "9", 1000, SALE_AT, member)
    deliver(client, smaregi, "pos:transactions", "created", [first])
    work(session)
    store = session.scalar(select(SmaregiStore).where(SmaregiStore.store_id == "9"))
    assert (store.status, store.name) == ("unmapped", None)
    assert points(session, shop) == 10
    smaregi.add_store(CONTRACT, "9", "梅田店")
    second = smaregi.ring_sale(CONTRACT, "9", 2000, SALE_AT + timedelta(hours=1), member)
    deliver(client, smaregi, "pos:transactions", "created", [second])
    work(session)
    assert (store.status, store.name) == ("mapped", "梅田店")
    names = session.scalars(select(Purchase.location_name).order_by(Purchase.processed_at)).all()
    assert names == ["梅田店", "梅田店"]  # the sale credited while the store was unknown is named too


def test_a_walk_in_sale_is_kept_but_credits_nobody(client, session, shop, connected, smaregi):
    head = smaregi.ring_sale(CONTRACT, "1", 3000, SALE_AT, None)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert session.scalar(select(SmaregiTransaction.status)) == "no_customer"
    assert session.scalar(select(Purchase.id)) is None


def test_the_token_is_cached_and_refreshed_when_revoked(client, session, shop, connected, smaregi):
    member = customer(smaregi)
    for total in (1000, 2000):
        head = smaregi.ring_sale(CONTRACT, "1", total, SALE_AT, member)
        deliver(client, smaregi, "pos:transactions", "created", [head])
        work(session)
    assert smaregi.token_requests == 1
    smaregi.revoke_tokens()
    head = smaregi.ring_sale(CONTRACT, "1", 3000, SALE_AT, member)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert smaregi.token_requests == 2
    assert points(session, shop) == 60
    assert b"client-secret" not in connected.client_secret_enc


def test_a_smaregi_outage_fails_the_row_for_a_retry_and_credits_nothing(
    client, session, shop, connected, smaregi
):
    head = smaregi.ring_sale(CONTRACT, "1", 3000, SALE_AT, customer(smaregi))
    deliver(client, smaregi, "pos:transactions", "created", [head])
    smaregi.fail_next = [503]
    with pytest.raises(SmaregiError) as raised:
        work(session)
    assert raised.value.transient
    session.rollback()
    assert session.scalar(select(Purchase.id)) is None
    work(session)
    assert points(session, shop) == 30


def test_a_tier_without_a_smaregi_rank_code_leaves_the_register_rank_alone(
    client, session, shop, connected, smaregi
):
    connected.rank_codes = {"regular": "1"}  # the merchant mapped only the lowest tier
    member_id = customer(smaregi)
    head = smaregi.ring_sale(CONTRACT, "1", 30000, SALE_AT, member_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert store_member(session, shop, "C0001").rank == "silver"
    assert smaregi.contracts[CONTRACT].customers[member_id]["rank"] is None
    assert session.scalar(select(SmaregiCustomer.push_error)) is None


def test_a_receipt_with_only_the_customer_id_is_still_credited(client, session, shop, connected, smaregi):
    head = smaregi.ring_sale(CONTRACT, "1", 6000, SALE_AT, customer(smaregi))
    smaregi.contracts[CONTRACT].transactions[head]["customerCode"] = None
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert points(session, shop) == 60
