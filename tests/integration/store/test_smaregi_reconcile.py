"""Reconciliation covers webhooks Smaregi never delivered, once; members webhooks link store members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent
from app.integrations.smaregi.client import SmaregiClient
from app.integrations.smaregi.reconcile import reconcile_all, reconcile_shop
from app.models.integrations import SmaregiCustomer
from app.models.purchase import Purchase
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, store_member, work

SALE_AT = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)


def earned(member) -> int:
    """Points from the sales, pending or already matured: SALE_AT is a fixed date, today's date is not."""
    return member.points_pending + member.points_available


def test_a_sale_whose_webhook_never_came_is_credited_once(session, shop, connected, smaregi):
    member = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    head = smaregi.ring_sale(CONTRACT, "1", 12000, SALE_AT, member)
    back = smaregi.ring_return(CONTRACT, head, 2000, SALE_AT + timedelta(hours=1))
    assert reconcile_shop(session, shop) == 2
    assert reconcile_shop(session, shop) == 2  # the overlap re-reads them: applied again, changing nothing
    assert earned(store_member(session, shop, "C0001")) == 100
    assert session.scalar(select(Purchase.source_id)) == head
    assert connected.reconciled_until is not None
    # The list omits the lines; each receipt is fetched with them to tell a return from a sale.
    assert ("GET", f"/transactions/{back}") in smaregi.requests


def test_the_pull_walks_31_day_windows_from_the_watermark(session, shop, connected, smaregi):
    now = datetime.now(UTC)
    connected.reconciled_until = now - timedelta(days=70)
    smaregi.requests.clear()
    reconcile_shop(session, shop, now=now)
    lists = [p for m, p in smaregi.requests if p == "/transactions"]
    assert len(lists) == 3  # 70 days + the overlap in spans of at most 31 days (the API's limit)
    assert connected.reconciled_until == now


def test_reconcile_all_keeps_going_when_one_shop_fails(session, shop, connected, smaregi):
    session.commit()  # reconcile_all commits or rolls back per shop: the setup must stand on its own
    smaregi.fail_next = [503]
    assert reconcile_all(session) == {shop.domain: -1}
    assert "SmaregiError" in connected.last_error
    assert reconcile_all(session) == {shop.domain: 0}


def test_a_member_webhook_links_the_store_member_to_the_shopify_customer_by_phone(
    client, session, shop, connected, smaregi
):
    apply_customer(session, shop, CustomerEvent("create", "7001", phone="+81 90 1234 5678"))
    customer_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(client, smaregi, "pos:customers", "created", [customer_id])
    work(session)
    assert store_member(session, shop, "C0001").shopify_customer_id == "7001"
    head = smaregi.ring_sale(CONTRACT, "1", 5000, SALE_AT, customer_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert session.scalar(select(Purchase.channel)) == "external_pos"
    assert earned(store_member(session, shop, "C0001")) == 50


def test_a_deleted_member_is_kept_as_deleted(client, session, shop, connected, smaregi):
    customer_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(client, smaregi, "pos:customers", "created", [customer_id])
    work(session)
    del smaregi.contracts[CONTRACT].customers[customer_id]
    deliver(client, smaregi, "pos:customers", "deleted", [customer_id])
    work(session)
    assert session.scalar(select(SmaregiCustomer.deleted)) is True


def test_an_expired_token_is_renewed_before_use(session, shop, connected, smaregi):
    client = SmaregiClient(connected)
    client.access_token()
    connected.access_expires_at = datetime.now(UTC) + timedelta(seconds=30)  # inside the one-minute margin
    client.access_token()
    assert smaregi.token_requests == 2
    client.access_token()
    assert smaregi.token_requests == 2
