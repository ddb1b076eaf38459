"""Compliance topics end to end: data request, customer redact (and replays after it), shop redact."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.dispatch import dispatch
from app.extensions import db
from app.jobs.worker import Worker, WorkerConfig
from app.models import DataExport, InboxEvent, LedgerPosting, Member, Purchase, Shop
from tests.integration.webhooks.support import SHOP, later, order_body, post

CUSTOMER = 7001


def drain(app) -> None:
    Worker(app, WorkerConfig(idle_sleep=0), worker_id="compliance", handle=dispatch).run(once=True)


def redact_body(customer_id: int = CUSTOMER, orders: list[int] | None = None) -> dict:
    return {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": customer_id, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": orders or [],
    }


def credit_two_orders(app, client) -> None:
    post(client, "orders/create", order_body(801, "12000", customer_id=CUSTOMER))
    post(client, "orders/paid", order_body(802, "25000", customer_id=CUSTOMER))
    post(client, "orders/create", order_body(803, "5000", customer_id=CUSTOMER + 1))  # someone else
    drain(app)


def test_data_request_keeps_an_export_for_the_merchant(app, client, session, shop):
    credit_two_orders(app, client)
    body = {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "orders_requested": [801, 802],
        "customer": {"id": CUSTOMER, "email": "john@example.com", "phone": "555-625-1199"},
        "data_request": {"id": 9999},
    }
    assert post(client, "customers/data_request", body).status_code == 200
    assert post(client, "customers/data_request", body).status_code == 200  # a second delivery
    drain(app)
    export = session.scalars(select(DataExport)).one()
    assert (export.shop_id, export.shopify_customer_id, export.data_request_id, export.status) == (
        shop.id,
        str(CUSTOMER),
        "9999",
        "ready",
    )
    (member,) = export.data["member"]["members"]
    assert json.dumps(member).count("801") >= 1 and json.dumps(member).count("802") >= 1
    assert "803" not in json.dumps(export.data["member"])
    assert {d["resource_id"] for d in export.data["webhook_deliveries"]} == {"801", "802"}
    request_rows = session.scalars(
        select(InboxEvent).where(InboxEvent.topic == "customers/data_request")
    ).all()
    assert all("john@example.com" not in row.payload for row in request_rows)  # handled: ids only


def test_customer_redact_erases_and_a_replayed_order_does_not_bring_the_customer_back(
    app, client, session, shop
):
    credit_two_orders(app, client)
    old_row = session.scalars(select(InboxEvent).where(InboxEvent.resource_id == "801")).one()
    assert post(client, "customers/redact", redact_body(orders=[801, 802])).status_code == 200
    drain(app)
    session.expire_all()
    assert session.scalar(select(Member).where(Member.shopify_customer_id == str(CUSTOMER))) is None
    naming = session.scalars(select(InboxEvent).where(InboxEvent.resource_id.in_(["801", "802"]))).all()
    assert naming and all(r.payload == "{}" and r.redacted_at is not None for r in naming)
    redact_row = session.scalars(select(InboxEvent).where(InboxEvent.topic == "customers/redact")).one()
    assert redact_row.status == "done" and "john@example.com" not in redact_row.payload
    purchases_before = session.scalar(select(func.count()).select_from(Purchase))

    # Shopify re-sends the old order (a retry, or a newer snapshot of it), and reconciliation sees it too.
    post(client, "orders/updated", order_body(801, "12000", customer_id=CUSTOMER, updated_at=later(90)))
    post(client, "orders/create", order_body(804, "3000", customer_id=CUSTOMER, updated_at=later(95)))
    drain(app)
    session.expire_all()
    assert session.scalar(select(Member).where(Member.shopify_customer_id == str(CUSTOMER))) is None
    assert session.scalar(select(func.count()).select_from(Purchase)) == purchases_before
    assert session.scalar(select(func.sum(LedgerPosting.points))) == 0  # totals kept, books balanced

    # An operator cannot replay the scrubbed original either.
    result = app.test_cli_runner().invoke(args=["replay", str(old_row.id)])
    assert result.exit_code != 0 and "redacted" in result.output


def test_redact_of_a_pending_delivery_closes_it_unprocessed(app, client, session, shop):
    post(client, "orders/create", order_body(805, "9000", customer_id=CUSTOMER))
    post(client, "customers/redact", redact_body())
    # Both arrive before a worker runs; the redact must win even though the order row is older.
    rows = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
    from app.customers.compliance import customer_redact

    customer_redact(db.session, shop, rows[1], redact_body())
    db.session.commit()
    drain(app)
    session.expire_all()
    order_row = session.get(InboxEvent, rows[0].id)
    assert (order_row.status, order_row.last_error, order_row.payload) == (
        "ignored",
        "customer redacted",
        "{}",
    )
    assert session.scalar(select(func.count()).select_from(Purchase)) == 0


def test_shop_redact_deletes_everything_of_the_shop(app, client, session, shop):
    shop_id = shop.id
    other = Shop(domain="other-shop.myshopify.com")
    session.add(other)
    session.commit()
    credit_two_orders(app, client)
    post(client, "orders/create", order_body(901, "8000", customer_id=1), shop="other-shop.myshopify.com")
    post(client, "customers/data_request", {"customer": {"id": CUSTOMER}, "data_request": {"id": 1}})
    drain(app)
    shop.status = "uninstalled"  # shop/redact comes 48 h after the uninstall
    session.commit()
    assert post(client, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP}).status_code == 200
    drain(app)
    session.expire_all()
    leftovers = {}
    for table in db.metadata.sorted_tables:
        if "shop_domain" in table.c:
            count = session.scalar(select(func.count()).select_from(table).where(table.c.shop_domain == SHOP))
            if table.name == "inbox_events":
                count -= 1  # the shop/redact delivery itself, kept as the record that it was done
        elif "shop_id" in table.c:
            count = session.scalar(select(func.count()).select_from(table).where(table.c.shop_id == shop_id))
        else:
            continue
        if count:
            leftovers[table.name] = count
    assert leftovers == {}
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)) is None
    assert session.scalar(select(func.count()).select_from(Member)) == 1  # the other shop's member stays
    (record,) = session.scalars(select(InboxEvent).where(InboxEvent.shop_domain == SHOP)).all()
    assert (record.topic, record.status, record.shop_id) == ("shop/redact", "done", None)
