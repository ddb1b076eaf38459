"""Lifecycle and compliance deliveries are checked against the verified shop and its installs.

The shop a delivery is filed under comes from X-Shopify-Shop-Domain, outside the HMAC; a signed body replayed
under another shop's header, or delivered late (after a reinstall), must not uninstall or erase anything.
Refused rows are kept, closed as ignored with the reason, and their bodies hold no personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.dispatch import dispatch
from app.jobs.worker import Worker, WorkerConfig
from app.models import DataExport, InboxEvent, Member, Purchase, Shop
from tests.integration.webhooks.support import SHOP, order_body, post

CUSTOMER = 7001
OTHER = "other-shop.myshopify.com"


def drain(app) -> None:
    Worker(app, WorkerConfig(idle_sleep=0), worker_id="guards", handle=dispatch).run(once=True)


def row_of(session, topic: str) -> InboxEvent:
    session.expire_all()
    return session.scalars(select(InboxEvent).where(InboxEvent.topic == topic)).one()


def assert_refused(row: InboxEvent, because: str) -> None:
    assert row.status == "ignored", row.last_error
    assert row.last_error.startswith("refused: ") and because in row.last_error
    assert "john@example.com" not in row.payload and "555-625-1199" not in row.payload


def member_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Member))


def credit_one_order(app, client) -> None:
    post(client, "orders/create", order_body(801, "12000", customer_id=CUSTOMER))
    drain(app)


def uninstall(session, shop, at: datetime | None = None) -> None:
    shop.status, shop.uninstalled_at = "uninstalled", at or datetime.now(UTC) - timedelta(hours=48)
    session.commit()


def shop_redact_body(domain: str = SHOP, shop_id: int = 954889) -> dict:
    return {"shop_id": shop_id, "shop_domain": domain}


def test_shop_redact_of_an_installed_shop_is_refused_and_kept(app, client, session, shop):
    credit_one_order(app, client)
    assert post(client, "shop/redact", shop_redact_body()).status_code == 200
    drain(app)
    assert_refused(row_of(session, "shop/redact"), "shop is installed")
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)) is not None
    assert member_count(session) == 1


def test_shop_redact_whose_body_names_another_shop_is_refused(app, client, session, shop):
    credit_one_order(app, client)
    uninstall(session, shop)
    post(client, "shop/redact", shop_redact_body(domain=OTHER))  # OTHER's signed body, our header
    post(client, "customers/redact", {"shop_domain": SHOP, "customer": {"id": 1}}, shop=OTHER)
    drain(app)
    assert_refused(row_of(session, "shop/redact"), "shop_domain is not the verified shop domain")
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)) is not None
    assert member_count(session) == 1


def test_shop_redact_without_a_shop_domain_in_the_body_is_refused(app, client, session, shop):
    uninstall(session, shop)
    post(client, "shop/redact", {"shop_id": 954889})
    drain(app)
    assert_refused(row_of(session, "shop/redact"), "no shop_domain")
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)) is not None


def test_shop_redact_naming_another_shop_id_than_the_known_one_is_refused(app, client, session, shop):
    shop.shopify_shop_id = "954889"
    uninstall(session, shop)
    post(client, "shop/redact", shop_redact_body(shop_id=123))
    drain(app)
    assert_refused(row_of(session, "shop/redact"), "shop_id is not the shop's id")
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)) is not None


def test_shop_redact_from_before_a_reinstall_is_refused(app, client, session, shop):
    """Uninstalled, reinstalled, uninstalled again: the first uninstall's late redact must not act."""
    now = datetime.now(UTC)
    credit_one_order(app, client)
    shop.installed_at = now - timedelta(hours=2)
    uninstall(session, shop, at=now - timedelta(minutes=10))
    post(client, "shop/redact", shop_redact_body(), triggered_at=now - timedelta(hours=3))
    drain(app)
    assert_refused(row_of(session, "shop/redact"), "predates the shop's latest uninstall")
    assert member_count(session) == 1


def test_shop_redact_after_the_uninstall_still_erases(app, client, session, shop):
    credit_one_order(app, client)
    uninstall(session, shop)
    post(client, "shop/redact", shop_redact_body())
    drain(app)
    assert row_of(session, "shop/redact").status == "done"
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)) is None
    assert member_count(session) == 0


def test_customer_redact_whose_body_names_another_shop_is_refused(app, client, session, shop):
    credit_one_order(app, client)
    body = {
        "shop_id": 954889,
        "shop_domain": OTHER,
        "customer": {"id": CUSTOMER, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [801],
    }
    post(client, "customers/redact", body)
    drain(app)
    assert_refused(row_of(session, "customers/redact"), "shop_domain is not the verified shop domain")
    assert member_count(session) == 1
    order_row = session.scalars(select(InboxEvent).where(InboxEvent.topic == "orders/create")).one()
    assert order_row.redacted_at is None


def test_data_request_whose_body_names_another_shop_builds_no_export(app, client, session, shop):
    credit_one_order(app, client)
    body = {
        "shop_domain": OTHER,
        "customer": {"id": CUSTOMER, "email": "john@example.com", "phone": "555-625-1199"},
        "data_request": {"id": 9999},
    }
    post(client, "customers/data_request", body)
    drain(app)
    assert_refused(row_of(session, "customers/data_request"), "shop_domain")
    assert session.scalar(select(func.count()).select_from(DataExport)) == 0


def test_a_stale_uninstall_does_not_uninstall_a_reinstalled_shop(app, client, session, shop):
    """An app/uninstalled triggered before the current install: ignored, and orders keep crediting."""
    post(
        client,
        "app/uninstalled",
        {"id": 1, "myshopify_domain": SHOP},
        triggered_at=shop.installed_at - timedelta(days=1),
    )
    drain(app)
    assert_refused(row_of(session, "app/uninstalled"), "predates the shop's current install")
    session.expire_all()
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)).is_installed
    assert post(client, "orders/create", order_body(802, "5000")).status_code == 200
    drain(app)
    assert session.scalar(select(func.count()).select_from(Purchase)) == 1


def test_an_uninstall_after_the_install_still_uninstalls(app, client, session, shop):
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    drain(app)
    assert row_of(session, "app/uninstalled").status == "done"
    refreshed = session.scalar(select(Shop).where(Shop.domain == SHOP))
    assert not refreshed.is_installed and refreshed.uninstalled_at >= refreshed.installed_at


def test_an_uninstall_whose_body_names_another_shop_is_refused(app, client, session, shop):
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": OTHER})
    drain(app)
    assert_refused(row_of(session, "app/uninstalled"), "myshopify_domain is not the verified shop domain")
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)).is_installed


def test_a_scopes_update_from_before_the_install_is_ignored(app, client, session, shop):
    shop.granted_scopes = "read_orders,write_customers"
    session.commit()
    body = {"id": 1, "previous": [], "current": ["read_orders"]}
    post(client, "app/scopes_update", body, triggered_at=shop.installed_at - timedelta(hours=1))
    drain(app)
    assert_refused(row_of(session, "app/scopes_update"), "predates the shop's current install")
    assert session.scalar(select(Shop).where(Shop.domain == SHOP)).scopes == {
        "read_orders",
        "write_customers",
    }
