"""The reports page and CSV: why a month waits, a close with its adjustment, in Japanese and English."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import escape
from sqlalchemy import func, select

from app.admin.reports import hold_text
from app.dashboard.close_csv import HEADER
from app.dashboard.reports import Hold
from app.i18n import catalogue
from app.models import BackfillJob, MonthEndClose
from app.models.rank import MonthCloseAdjustment
from app.models.types import utcnow
from app.points.ledger import post
from tests.integration.admin.factories import member


def last_month(shop) -> tuple[str, datetime]:
    """The previous month in the shop's time zone, and an instant on its 10th."""
    local = utcnow().astimezone(ZoneInfo(shop.timezone))
    first = datetime(local.year, local.month, 1, tzinfo=ZoneInfo(shop.timezone))
    before = first - timedelta(days=20)
    return f"{before:%Y-%m}", datetime(before.year, before.month, 10, 12, tzinfo=UTC)


def earn(session, shop, who, n: int, at: datetime, key: str) -> None:
    post(
        session,
        shop.id,
        who,
        source="test",
        source_id=key,
        kind="earn",
        legs=[("issued", None, -n), ("available", who.id, n)],
        effective_at=at,
    )


def column(row: list[str], name: str) -> str:
    return row[HEADER.index(name)]


def test_the_page_says_why_the_month_is_not_closed_and_a_close_is_refused(admin, installed, session):
    period, _ = last_month(installed)
    session.add(BackfillJob(shop_id=installed.id, kind="customers", status="done"))
    session.add(BackfillJob(shop_id=installed.id, kind="orders", status="running", total=2000, done=500))
    session.commit()  # the routes share this session; a refused request's rollback must not undo the setup
    for locale in ("ja", "en"):
        messages = catalogue(locale)
        html = admin.html("/reports", locale)
        waiting = html.split(f'data-waiting="{period}"', 1)[1].split("</s-banner>", 1)[0]
        assert messages["reports.waiting_title"].format(period=period) in html
        kind = messages["backfill.kind.orders"]
        reason = messages["reports.hold.history_running"].format(kind=kind, done="500", total="2,000")
        assert str(escape(reason)) in waiting

    refused = admin.post("/reports/close", {"period": period}, "ja")
    assert refused.status_code == 409
    message = refused.get_json()["message"]
    assert message.startswith(period) and catalogue("ja")["backfill.kind.orders"] in message
    assert session.scalar(select(func.count()).select_from(MonthEndClose)) == 0


def test_a_late_sale_shows_as_an_adjustment_on_the_page_and_in_the_csv(admin, installed, session):
    period, day = last_month(installed)
    who = member(session, installed, created_at=day - timedelta(days=30))
    earn(session, installed, who, 1000, day, "o1")
    for kind in ("customers", "orders"):
        session.add(BackfillJob(shop_id=installed.id, kind=kind, status="done"))
    session.commit()
    assert admin.post("/reports/close", {"period": period}).status_code == 200
    unchanged = admin.post("/reports/recheck", {"period": period}, "en")
    expected = catalogue("en")["reports.recheck_unchanged"].format(period=period)
    assert unchanged.get_json()["message"] == expected

    earn(session, installed, who, 500, day + timedelta(days=5), "o2")  # a backdated POS sale
    session.commit()
    recorded = admin.post("/reports/recheck", {"period": period}, "ja")
    assert recorded.status_code == 200 and recorded.get_json()["reload"] is True
    assert admin.post("/reports/recheck", {"period": period}).get_json()["ok"] is True
    assert session.scalar(select(func.count()).select_from(MonthCloseAdjustment)) == 1  # idempotent

    rows = list(csv.reader(io.StringIO(admin.fetch(f"/reports/{period}.csv").get_data(as_text=True)[1:])))
    assert tuple(rows[0]) == HEADER
    month = next(r for r in rows if r[0] == "month")
    adjustment = next(r for r in rows if r[0] == "adjustment")
    difference = next(r for r in rows if r[0] == "difference")
    current = next(r for r in rows if r[0] == "current")
    assert column(month, "earned") == "1000" and column(month, "outstanding") == "1000"
    assert adjustment[1] == difference[1] == f"{period}#1"
    assert column(adjustment, "earned") == "1500" and column(adjustment, "trigger") == "staff"
    assert column(adjustment, "reason") == "late_entries (1)"
    assert column(difference, "earned") == "500" and column(difference, "available") == "500"
    assert column(difference, "redeemed") == "0"
    assert column(current, "earned") == "1500" and column(current, "outstanding") == "1500"
    stored = session.scalar(select(MonthEndClose))
    assert "adjustment" not in stored.csv  # the close's own CSV is as it was made

    for locale in ("ja", "en"):
        messages = catalogue(locale)
        html = admin.html("/reports", locale)
        table = html.split(f'data-table="adjustments" data-period="{period}"', 1)[1].split("</table>", 1)[0]
        assert messages["reports.adjustments_title"].format(period=period) in html
        assert messages["reports.adjustment_n"].format(sequence=1) in table
        earned = table.split('data-figure="earned"', 1)[1].split("</th>", 1)[1].split("</tr>", 1)[0]
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in earned.split("</td>")[:-1]]
        assert cells == ["1,000", "+500", "1,500"]
        assert messages["reports.adjusted_badge"].format(count=1) in html


def test_hold_messages_name_the_kind_in_the_staffs_language(app):
    with app.test_request_context("/?locale=ja"):
        text = hold_text(Hold("inbox_waiting", {"count": 1200}))
        assert text == catalogue("ja")["reports.hold.inbox_waiting"].format(count="1,200")
