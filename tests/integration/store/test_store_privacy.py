"""customers/redact and customers/data_request reach the store side: LINE link, outbox, Smaregi ids."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.customers.events import apply_customer
from app.dispatch import dispatch
from app.domain.events import CustomerEvent
from app.integrations.line.links import link_user
from app.jobs import inbox
from app.models.compliance import DataExport
from app.models.inbox import InboxEvent
from app.models.integrations import LineLink, LineMessage, SmaregiCustomer, SmaregiTransaction
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, work
from tests.integration.store.test_smaregi_ingest import SALE_AT

USER = "U0123456789abcdef0123456789abcdef"


def compliance(session, shop, topic, body):
    inbox.record(
        session,
        inbox.Delivery(
            shop_domain=shop.domain, shop_id=shop.id, topic=topic, delivery_id=topic, payload=json.dumps(body)
        ),
    )
    row = session.scalar(select(InboxEvent).where(InboxEvent.topic == topic))
    dispatch(session, row)


def linked_store_customer(client, session, shop, smaregi):
    apply_customer(session, shop, CustomerEvent("create", "7001", phone="090-1234-5678"))
    smaregi_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(
        client,
        smaregi,
        "pos:transactions",
        "created",
        [smaregi.ring_sale(CONTRACT, "1", 5000, SALE_AT, smaregi_id)],
    )
    work(session)
    session.scalar(select(SmaregiCustomer)).shopify_customer_id = "7001"
    link_user(session, shop, "7001", USER)
    return smaregi_id


def test_a_data_request_lists_the_store_side(client, session, shop, connected, smaregi, line_connected):
    smaregi_id = linked_store_customer(client, session, shop, smaregi)
    compliance(session, shop, "customers/data_request", {"customer": {"id": 7001}, "data_request": {"id": 9}})
    export = session.scalar(select(DataExport)).data["store_side"]
    assert export["line"]["line_user_id"] == USER
    assert export["smaregi_member_ids"] == [smaregi_id]
    assert [m["kind"] for m in export["line_messages"]] == ["link_confirm"]


def test_a_redaction_removes_the_line_link_and_smaregi_mapping(
    client, session, shop, connected, smaregi, line_connected
):
    linked_store_customer(client, session, shop, smaregi)
    compliance(session, shop, "customers/redact", {"customer": {"id": 7001}, "orders_to_redact": []})
    assert session.scalar(select(LineLink)) is None
    assert session.scalar(select(LineMessage)) is None
    assert session.scalar(select(SmaregiCustomer)) is None
    assert session.scalar(select(SmaregiTransaction.customer_id)) is None  # the receipt stays, anonymous
