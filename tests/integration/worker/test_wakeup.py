"""The worker and the syncer wake when work is committed (PostgreSQL NOTIFY), and poll where they can't."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from app.jobs.wakeup import INBOX_CHANNEL, SYNC_CHANNEL, Wakeup
from app.models import InboxEvent, Member, Shop


def _commit_later(app, db, work, delay: float = 0.3) -> threading.Thread:
    def run():
        time.sleep(delay)
        with app.app_context():
            work(db.session)
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _shop(session) -> Shop:
    shop = Shop(domain="wake-shop.myshopify.com", name="Wake", currency="JPY", timezone="Asia/Tokyo")
    session.add(shop)
    session.commit()
    return shop


@pytest.mark.postgres
def test_a_recorded_webhook_wakes_the_worker_at_once(app, committed):
    shop = _shop(committed.session)
    wakeup = Wakeup(committed.engine, INBOX_CHANNEL)
    try:
        assert wakeup.wait(0.05) is False  # connects and listens; nothing committed yet
        row = {"shop_domain": shop.domain, "shop_id": shop.id, "topic": "orders/create", "payload": "{}"}
        thread = _commit_later(app, committed, lambda s: s.add(InboxEvent(delivery_id="d-1", **row)))
        started = time.monotonic()
        assert wakeup.wait(10.0) is True
        assert time.monotonic() - started < 2.0  # woken by the commit, not by the 10 s poll
        thread.join()
    finally:
        wakeup.close()


@pytest.mark.postgres
def test_a_member_change_wakes_the_syncer_and_a_rollback_does_not(app, committed):
    shop = _shop(committed.session)
    member = Member(shop_id=shop.id, shopify_customer_id=42, member_number="100000000042")
    committed.session.add(member)
    committed.session.commit()
    wakeup = Wakeup(committed.engine, SYNC_CHANNEL)
    try:
        assert wakeup.wait(0.05) is False
        committed.session.execute(text("UPDATE members SET sync_version = sync_version + 1"))
        committed.session.rollback()  # a rolled-back change notifies nobody
        assert wakeup.wait(0.5) is False
        committed.session.execute(text("UPDATE members SET sync_version = sync_version + 1"))
        committed.session.commit()
        assert wakeup.wait(5.0) is True
        committed.session.execute(text("UPDATE members SET updated_at = updated_at"))  # not a sync change
        committed.session.commit()
        assert wakeup.wait(0.5) is False
    finally:
        wakeup.close()


def test_without_notifications_wait_is_the_poll_interval(app, committed):
    wakeup = Wakeup(committed.engine, INBOX_CHANNEL)
    if wakeup.listening:
        pytest.skip("SQLite only: PostgreSQL listens")
    started = time.monotonic()
    assert wakeup.wait(0.2) is False
    assert 0.19 <= time.monotonic() - started < 1.0


def test_unknown_channels_are_refused(app, committed):
    with pytest.raises(ValueError):
        Wakeup(committed.engine, "anything; DROP TABLE members")
