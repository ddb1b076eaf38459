"""Month-end close: waits for complete data, then late data becomes adjustments beside the frozen close.

Ledger transactions are posted directly with explicit effective_at (app.points.ledger.post), so these tests
check the close and its figures, not how the points engine derives entries from events.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.dashboard import reports
from app.dashboard.month_figures import points_report
from app.models import BackfillJob, InboxEvent, Member, MonthEndClose
from app.models.rank import MonthCloseAdjustment
from app.points.ledger import post

# 2026-12-01 00:30 in Tokyo: November is due.
DUE = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
NOV = date(2026, 11, 1)


def jst(day: int, hour: int = 12, month: int = 11) -> datetime:
    """An instant on a day of 2026 in Tokyo (UTC+9), as UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC) - timedelta(hours=9)


def history(session, shop, orders: str = "done", customers: str = "done") -> dict[str, BackfillJob]:
    """The shop's install history import, one job per kind, in the given states."""
    jobs = {}
    for kind, status in (("customers", customers), ("orders", orders)):
        jobs[kind] = BackfillJob(shop_id=shop.id, kind=kind, status=status, total=100, done=100)
        if status != "done":
            jobs[kind].done = 40
        session.add(jobs[kind])
    session.flush()
    return jobs


def customer(session, shop, number: str = "00000000017") -> Member:
    row = Member(
        shop_id=shop.id,
        shopify_customer_id=number,
        member_number=number,
        created_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    session.add(row)
    session.flush()
    return row


def points(session, shop, who: Member, kind: str, legs, at: datetime, key: str) -> None:
    """One ledger transaction with the given legs, as happened at `at`."""
    post(session, shop.id, who, source="test", source_id=key, kind=kind, legs=legs, effective_at=at)


def earn(session, shop, who: Member, n: int, at: datetime, key: str) -> None:
    points(session, shop, who, "earn", [("issued", None, -n), ("available", who.id, n)], at, key)


def test_a_close_before_the_history_import_is_skipped_with_the_reason(session, shop, caplog):
    who = customer(session, shop)
    earn(session, shop, who, 1000, jst(10), "o1")
    jobs = history(session, shop, orders="running")
    session.commit()  # as the worker finds it: the leases it takes commit and roll back
    caplog.set_level(logging.INFO, logger="app.dashboard.reports")

    assert reports.close_due_months(session, DUE) == 0
    assert session.scalar(select(func.count()).select_from(MonthEndClose)) == 0
    (line,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "period=2026-11" in line and "history_running" in line
    key, holds = reports.waiting_holds(session, shop, DUE)
    assert key == "2026-11"
    assert holds == [reports.Hold("history_running", {"kind": "orders", "done": 40, "total": 100})]
    with pytest.raises(reports.NotReady):  # staff cannot close it by hand either
        reports.close_month(session, shop, NOV, trigger="staff", now=DUE)

    jobs["orders"].status = "done"
    # A delivery that happened before the month end and is not processed yet holds the month too.
    late = InboxEvent(
        shop_domain=shop.domain,
        shop_id=shop.id,
        topic="orders/create",
        delivery_id="d1",
        payload="{}",
        triggered_at=jst(30, 23),
        received_at=DUE + timedelta(minutes=1),
    )
    session.add(late)
    # One that happened and arrived after the month end does not.
    session.add(
        InboxEvent(
            shop_domain=shop.domain,
            shop_id=shop.id,
            topic="orders/create",
            delivery_id="d2",
            payload="{}",
            triggered_at=DUE,
            received_at=DUE,
        )
    )
    session.commit()
    assert reports.readiness(session, shop, NOV) == [reports.Hold("inbox_waiting", {"count": 1})]
    assert reports.close_due_months(session, DUE + timedelta(minutes=1)) == 0

    late.status = "done"
    session.commit()
    assert reports.waiting_holds(session, shop, DUE)[1] == []
    assert reports.close_due_months(session, DUE + timedelta(minutes=2)) == 1
    close = session.scalar(select(MonthEndClose))
    assert close.period == "2026-11" and close.data["totals"]["earned"] == 1000
    assert close.data["balances"] == {"pending": 0, "available": 1000, "held": 0}
    assert reports.waiting_holds(session, shop, DUE) is None


def test_a_failed_or_missing_history_import_holds_the_month(session, shop):
    assert [h.code for h in reports.readiness(session, shop, NOV)] == ["history_not_started"] * 2
    history(session, shop, orders="failed")
    assert reports.readiness(session, shop, NOV) == [reports.Hold("history_failed", {"kind": "orders"})]
    session.add(BackfillJob(shop_id=shop.id, kind="orders", status="done"))  # run again, to the end
    session.flush()
    assert reports.readiness(session, shop, NOV) == []


def test_a_backdated_sale_into_a_closed_month_is_one_adjustment(session, shop):
    history(session, shop)
    who = customer(session, shop)
    earn(session, shop, who, 1000, jst(10), "o1")
    session.commit()
    assert reports.close_due_months(session, DUE) == 1
    close = session.scalar(select(MonthEndClose))
    frozen_csv, frozen_data = close.csv, dict(close.data)

    # A POS sale of 28 November reaches the app a week later.
    earn(session, shop, who, 500, jst(28), "o2")
    earn(session, shop, who, 70, jst(3, month=12), "o3")  # December's: no change to November
    session.commit()
    assert reports.close_due_months(session, DUE + timedelta(days=7)) == 0
    (row,) = session.scalars(select(MonthCloseAdjustment)).all()
    assert (row.period, row.sequence, row.trigger, row.reason) == ("2026-11", 1, "schedule", "late_entries")
    assert row.detail["late_entries"] == 1
    assert row.difference == {"earned": 500, "available": 500, "outstanding": 500, "ranks": {}}
    assert row.figures["earned"] == 1500 and row.figures["outstanding"] == 1500
    assert row.figures["ranks"] == {"regular": 1}
    session.refresh(close)
    assert close.csv == frozen_csv and close.data == frozen_data  # the close itself is never edited

    # Running again, by the schedule the next day or by staff, finds nothing new.
    assert reports.close_due_months(session, DUE + timedelta(days=8)) == 0
    assert reports.recheck_month(session, shop, NOV, trigger="staff", now=DUE + timedelta(days=8)) is None
    assert session.scalar(select(func.count()).select_from(MonthCloseAdjustment)) == 1

    # A refund of the late sale, also late: a second adjustment, its difference against the first.
    points(
        session,
        shop,
        who,
        "refund_reversal",
        [("available", who.id, -200), ("issued", None, 200)],
        jst(29),
        "r1",
    )
    second = reports.recheck_month(session, shop, NOV, trigger="staff", now=DUE + timedelta(days=9))
    assert second.sequence == 2
    assert second.difference == {"reversed": 200, "available": -200, "outstanding": -200, "ranks": {}}
    (month,) = [m for m in reports.closed_months(session, shop) if m.close.period == "2026-11"]
    assert month.original["earned"] == 1000 and month.current["earned"] == 1500
    assert month.current["outstanding"] == 1300


def test_the_month_is_rechecked_once_a_day_by_the_schedule(session, shop):
    history(session, shop)
    who = customer(session, shop)
    session.commit()
    assert reports.close_due_months(session, DUE) == 1
    earn(session, shop, who, 300, jst(5), "o1")
    session.commit()
    # The same shop day as the close: the daily recheck already ran.
    assert reports.close_due_months(session, DUE + timedelta(hours=1)) == 0
    assert session.scalar(select(func.count()).select_from(MonthCloseAdjustment)) == 0
    reports.close_due_months(session, DUE + timedelta(days=1))
    assert session.scalar(select(func.count()).select_from(MonthCloseAdjustment)) == 1


def test_month_figures_by_kind_and_effective_at_in_the_shops_month(session, shop):
    who = customer(session, shop)
    earn(session, shop, who, 800, jst(20, month=10), "o0")  # October: November's opening balance
    points(
        session, shop, who, "opening", [("issued", None, -400), ("available", who.id, 400)], jst(1, 0), "m1"
    )
    points(session, shop, who, "earn", [("issued", None, -1000), ("pending", who.id, 1000)], jst(2), "o1")
    points(
        session,
        shop,
        who,
        "refund_reversal",
        [("issued", None, 200), ("pending", who.id, -200)],
        jst(3),
        "r1",
    )
    points(session, shop, who, "cancel", [("issued", None, 100), ("pending", who.id, -100)], jst(3), "c1")
    points(
        session, shop, who, "mature", [("pending", who.id, -700), ("available", who.id, 700)], jst(4), "l1"
    )
    points(session, shop, who, "spend", [("available", who.id, -300), ("redeemed", None, 300)], jst(5), "s1")
    points(session, shop, who, "hold", [("available", who.id, -150), ("held", who.id, 150)], jst(6), "h1")
    points(session, shop, who, "capture", [("held", who.id, -100), ("redeemed", None, 100)], jst(7), "h1")
    points(session, shop, who, "expire", [("available", who.id, -50), ("expired", None, 50)], jst(8), "x1")
    points(session, shop, who, "adjust", [("available", who.id, -30), ("adjustment", None, 30)], jst(9), "a1")
    # 1 December 00:30 in Tokyo is still 30 November in UTC: December's, not November's.
    earn(session, shop, who, 60, jst(1, 0, month=12) + timedelta(minutes=30), "o2")

    report = points_report(session, shop, NOV, now=DUE + timedelta(days=1))
    assert report.opening == 800
    assert report.totals == {
        "earned": 1000,
        "reversed": 300,
        "redeemed": 400,
        "expired": 50,
        "imported": 400,
        "adjusted": -30,
        "other": 0,
    }
    assert report.balances == {"pending": 0, "available": 1370, "held": 50}
    assert report.closing == 800 + 1000 - 300 - 400 - 50 + 400 - 30 == sum(report.balances.values())
    assert report.days[0]["imported"] == 400 and report.days[-1]["outstanding"] == report.closing
    assert len(report.days) == 30
