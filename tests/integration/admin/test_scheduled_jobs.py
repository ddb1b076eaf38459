"""Scheduled dashboard work: the month-end close runs once per shop when a month ends in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.dashboard.jobs import run_scheduled_reports
from app.dashboard.reports import close_due_months, due_period
from app.models import MonthEndClose, Shop
from tests.integration.admin.factories import history_imported, member


def test_the_previous_month_is_due_just_after_midnight_shop_time(shop):
    # 2026-11-30 15:04 UTC is 2026-12-01 00:04 in Tokyo: five minutes of grace for late postings first.
    assert due_period(shop, datetime(2026, 11, 30, 15, 4, tzinfo=UTC)).isoformat() == "2026-10-01"
    assert due_period(shop, datetime(2026, 11, 30, 15, 6, tzinfo=UTC)).isoformat() == "2026-11-01"


def test_each_shop_closes_once_and_uninstalled_shops_are_skipped(session, shop):
    gone = Shop(domain="gone.myshopify.com", name="Gone", status="uninstalled")
    session.add(gone)
    member(session, shop, rank="silver")
    history_imported(session, shop)
    at = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    assert close_due_months(session, at) == 1
    assert close_due_months(session, at) == 0
    rows = session.scalars(select(MonthEndClose)).all()
    assert [(r.shop_id, r.period, r.trigger) for r in rows] == [(shop.id, "2026-11", "schedule")]
    # The snapshot evaluates the rank as of month end from history (no purchases: the lowest rank).
    assert rows[0].data["ranks"] == {"regular": 1}


def test_the_worker_hook_closes_months_and_refreshes_summaries(app, session, shop):
    history_imported(session, shop)
    done = run_scheduled_reports(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
    assert done["closed"] == 1 and done["summaries"] == 1
    again = run_scheduled_reports(datetime(2026, 11, 30, 15, 31, tzinfo=UTC))
    assert again["closed"] == 0 and again["summaries"] == 0
