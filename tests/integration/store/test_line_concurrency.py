"""Several workers draining the LINE outbox at once on PostgreSQL: every message goes out exactly once."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from app.integrations.line.links import connect_line
from app.integrations.line.sender import send_due
from app.models.integrations import LineLink, LineMessage
from app.models.shop import Shop
from tests.integration.store.conftest import LINE_SECRET, LINE_TOKEN

pytestmark = pytest.mark.postgres

MESSAGES = 40
WORKERS = 4


def test_four_workers_send_each_message_once(app, committed, line_api):
    db = committed
    shop = Shop(domain="busy-shop.myshopify.com", name="Busy", currency="JPY", timezone="Asia/Tokyo")
    db.session.add(shop)
    db.session.flush()
    connect_line(db.session, shop, channel_secret=LINE_SECRET, access_token=LINE_TOKEN)
    due = datetime.now(UTC) - timedelta(minutes=1)
    for n in range(MESSAGES):
        db.session.add(LineLink(shop_id=shop.id, shopify_customer_id=str(n), line_user_id=f"U{n:032x}"))
        db.session.add(
            LineMessage(
                shop_id=shop.id,
                shopify_customer_id=str(n),
                kind="thank_you",
                visit_date=date(2026, 11, 20),
                status="scheduled",
                scheduled_for=due,
                next_attempt_at=due,
                retry_key=str(uuid.uuid4()),
            )
        )
    db.session.commit()

    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            try:
                barrier.wait()
                send_due(db.session)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert line_api.push_requests == MESSAGES  # no message was even attempted twice (SKIP LOCKED claims)
    assert len(line_api.pushed) == MESSAGES
    assert len({p.to for p in line_api.pushed}) == MESSAGES
    statuses = db.session.scalars(db.select(LineMessage.status)).all()
    assert statuses == ["sent"] * MESSAGES
