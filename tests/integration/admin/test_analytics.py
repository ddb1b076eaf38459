"""Analytics figures on a fixed dataset, each checked against the value worked out by hand.

NOW is 2026-11-20 12:00 in Tokyo; a purchase `d` days before NOW is on the local date d days before today.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.analytics import snapshot as analytics
from app.analytics.export import to_csv
from app.analytics.view import analytics_view
from app.i18n import translate
from app.models.dashboard import AnalyticsSnapshot
from tests.integration.admin.factories import member, purchase, refund

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def build(session, shop) -> None:
    """Eleven buyers, one member without purchases, one merged member whose purchases never count."""
    a = member(session, shop)  # online 200, online 180: F2 in 20 days
    purchase(session, shop, a, "10000", ago(200), "online")
    purchase(session, shop, a, "5000", ago(180), "online")
    b = member(session, shop)  # pos 200, online 100: second after 100 days (omni)
    purchase(session, shop, b, "8000", ago(200), "pos")
    purchase(session, shop, b, "2000", ago(100), "online")
    c = member(session, shop)  # pos 150, 95, 10: second after 55 days
    for d in (150, 95, 10):
        purchase(session, shop, c, "3000", ago(d), "pos")
    d_ = member(session, shop)  # online 50, 45: only the 30-day window is complete
    purchase(session, shop, d_, "4000", ago(50), "online")
    purchase(session, shop, d_, "4000", ago(45), "online")
    e = member(session, shop)  # one online purchase 400 days ago (before the cohort window)
    purchase(session, shop, e, "20000", ago(400), "online")
    f = member(session, shop)  # one pos purchase 20 days ago: in no complete window
    purchase(session, shop, f, "1000", ago(20), "pos")
    g = member(session, shop)  # online 120, a cancelled one at 110, pos 30: second exactly 90 days later
    purchase(session, shop, g, "6000", ago(120), "online")
    purchase(session, shop, g, "7000", ago(110), "online", cancelled=True)
    purchase(session, shop, g, "2000", ago(30), "pos")
    h = member(session, shop)  # smaregi 300 (partly refunded), online 290 fully refunded, smaregi 200
    first = purchase(session, shop, h, "10000", ago(300), "external_pos")
    refund(session, shop, first, "4000", ago(299))
    gone = purchase(session, shop, h, "9000", ago(290), "online")
    refund(session, shop, gone, "9000", ago(289))
    purchase(session, shop, h, "5000", ago(200), "external_pos")
    i = member(session, shop)  # app 70, 65
    purchase(session, shop, i, "1500", ago(70), "app")
    purchase(session, shop, i, "1500", ago(65), "app")
    j = member(session, shop)  # five purchases in other channels, 100..96 days ago
    for d in range(100, 95, -1):
        purchase(session, shop, j, "100", ago(d), "other")
    m = member(session, shop)  # ten online purchases, 40..31 days ago
    for d in range(40, 30, -1):
        purchase(session, shop, m, "1000", ago(d), "online")
    member(session, shop)  # never bought
    merged = member(session, shop, status="merged")
    purchase(session, shop, merged, "99999", ago(5), "online")


@pytest.fixture
def view(session, shop):
    build(session, shop)
    shop.app_namespace = "app--42"
    analytics.refresh(session, shop, NOW)
    return analytics_view(session, shop)


def test_repeat_rate_and_frequency(view):
    assert view.buyers == 11
    assert [(b.label, n) for b, n in view.frequency] == [
        ("1", 2),
        ("2", 6),
        ("3–4", 1),
        ("5–9", 1),
        ("10+", 1),
    ]
    assert view.repeat_buyers == 9 and view.repeat_rate == 9 / 11


def test_f2_conversion_by_first_channel(view):
    rows = {r.channel: r for r in view.f2}
    assert [r.channel for r in view.f2] == ["online", "pos", "external_pos", "app", "other", "all"]
    expected = {  # channel: buyers, eligible 30/60/90, converted 30/60/90
        "online": (5, [5, 3, 3], [3, 1, 2]),
        "pos": (3, [2, 2, 2], [0, 1, 1]),
        "external_pos": (1, [1, 1, 1], [0, 0, 0]),
        "app": (1, [1, 1, 0], [1, 1, 0]),
        "other": (1, [1, 1, 1], [1, 1, 1]),
        "all": (11, [10, 8, 7], [5, 4, 4]),
    }
    for channel, (buyers, eligible, converted) in expected.items():
        assert (rows[channel].buyers, rows[channel].eligible, rows[channel].converted) == (
            buyers,
            eligible,
            converted,
        ), channel
    assert rows["online"].rates == [3 / 5, 1 / 3, 2 / 3]
    assert rows["app"].rates[2] is None  # no first purchase 90 days old yet: no rate, not 0 %


def test_rfm_grid_counts_averages_and_segment_queries(view):
    counts = [[cell.members for cell in row] for row in view.rfm]
    assert counts == [
        [1, 1, 1, 0, 0],  # 0-30 days: F (1), G (2), C (3)
        [0, 2, 0, 0, 1],  # 31-90: D and I (2), M (10)
        [0, 2, 0, 1, 0],  # 91-180: A and B (2), J (5)
        [0, 1, 0, 0, 0],  # 181-365: H (2)
        [1, 0, 0, 0, 0],  # 366+: E (1)
    ]
    averages = {
        (r, f): cell.average for r, row in enumerate(view.rfm) for f, cell in enumerate(row) if cell.members
    }
    assert averages == {
        (0, 0): Decimal("1000"),
        (0, 1): Decimal("8000"),
        (0, 2): Decimal("9000"),
        (1, 1): Decimal("5500"),
        (1, 4): Decimal("10000"),
        (2, 1): Decimal("12500"),
        (2, 3): Decimal("500"),
        (3, 1): Decimal("11000"),
        (4, 0): Decimal("20000"),
    }
    ns = "metafields.app--42"
    assert view.rfm[0][0].query == f"{ns}.last_purchase_at >= -30d AND {ns}.purchase_count = 1"
    assert view.rfm[1][2].query == (
        f"{ns}.last_purchase_at BETWEEN -90d AND -31d AND {ns}.purchase_count BETWEEN 3 AND 4"
    )
    assert view.rfm[4][4].query == f"{ns}.last_purchase_at <= -366d AND {ns}.purchase_count >= 10"


def test_ltv_by_channel_mix(view):
    ltv = {r.mix: (r.members, r.average, r.median) for r in view.ltv}
    assert ltv == {
        "omni": (2, Decimal("9000"), Decimal("9000")),  # B 10,000, G 8,000
        "store_only": (3, Decimal("7000"), Decimal("9000")),  # C 9,000, F 1,000, H 11,000
        "online_only": (5, Decimal("11200"), Decimal("10000")),  # A 15,000 D 8,000 E 20,000 I 3,000 M 10,000
    }


def test_cohort_retention(session, shop, view):
    rows = {c.month: c for c in view.cohorts}
    assert view.cohorts[0].month == "2026-11" and len(view.cohorts) == 12
    assert rows["2026-11"].size == 0 and rows["2026-11"].active == [None] * 12
    assert rows["2026-10"].size == 3 and rows["2026-10"].active == [0] + [None] * 11
    assert rows["2026-07"].size == 1 and rows["2026-07"].active == [0, 0, 1, 0] + [None] * 8
    assert rows["2026-06"].active == [0, 1, 0, 0, 1] + [None] * 7
    assert rows["2026-05"].size == 2 and rows["2026-05"].shares[:6] == [0, 0, 0.5, 0, 0, 0]
    assert rows["2026-01"].size == 1 and rows["2026-01"].active[3] == 1 and rows["2026-01"].active[10] is None
    assert rows["2025-12"].size == 0  # E's first purchase (400 days ago) is older than the window
    assert sum(c.size for c in view.cohorts) == 10

    pos = {c.month: c for c in analytics_view(session, shop, "pos").cohorts}
    assert pos["2026-05"].size == 1 and pos["2026-05"].active[2] == 1  # B, back online in August
    assert pos["2026-06"].size == 1 and pos["2026-10"].size == 1 and pos["2026-07"].size == 0
    online = {c.month: c for c in analytics_view(session, shop, "online").cohorts}
    assert online["2026-10"].size == 2 and online["2026-07"].active[2] == 1  # G came back at a store


def test_csv_tables(view):
    f2 = to_csv(view, "f2").splitlines()
    assert f2[0].startswith("first_channel,buyers,eligible_30d,converted_30d,rate_30d")
    assert f2[1] == "online,5,5,3,0.6000,3,1,0.3333,3,2,0.6667"
    assert "repeat_rate,9,0.8182" in to_csv(view, "frequency")
    assert "omni,2,9000,9000" in to_csv(view, "ltv")
    assert "2026-05,all,2,0.0000,0.0000,0.5000" in to_csv(view, "cohorts")


def test_worker_computes_when_missing_changed_or_asked(session, shop):
    build(session, shop)
    assert analytics_view(session, shop).computed_at is None  # a page never computes
    assert analytics.refresh_due(session, NOW) == 1
    assert analytics.refresh_due(session, NOW + timedelta(minutes=1)) == 0  # nothing changed
    who = member(session, shop)
    purchase(session, shop, who, "500", NOW, "pos")
    assert analytics.refresh_due(session, NOW + timedelta(minutes=2)) == 1  # the data moved
    assert analytics_view(session, shop).buyers == 12
    analytics.request_refresh(session, shop, NOW + timedelta(minutes=3))
    assert analytics_view(session, shop).requested
    assert analytics.refresh_due(session, NOW + timedelta(minutes=3)) == 1  # staff asked
    assert session.get(AnalyticsSnapshot, shop.id).requested_at is None
    assert analytics.refresh_due(session, NOW + timedelta(hours=7)) == 1  # old: the calendar moved on


def test_page_renders_in_both_languages_and_downloads_csv(admin, installed, session):
    html = admin.html("/analytics")
    assert 'data-not-ready="computing"' in html  # nothing computed yet: no zeros shown as facts
    build(session, installed)
    installed.app_namespace = "app--42"
    analytics.refresh(session, installed)
    session.commit()
    html = admin.html("/analytics")
    assert "F2 conversion by first channel" in html and 'data-table="rfm"' in html
    assert 'data-copy="metafields.app--42.last_purchase_at' in html
    ja = admin.html("/analytics", locale="ja", channel="pos")
    assert "初回チャネル別 F2転換率" in ja and 'value="pos" selected' in ja
    response = admin.fetch("/analytics/ltv.csv")
    assert response.status_code == 200 and "omni,2,9000,9000" in response.get_data(as_text=True)
    assert admin.fetch("/analytics/nope.csv").status_code == 404
    assert admin.post("/analytics/refresh", {}).status_code == 200
    assert session.get(AnalyticsSnapshot, installed.id).requested_at is not None


@pytest.mark.e2e
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_page_in_chromium(admin, installed, session, browser, locale):
    """The page as rendered for the admin, opened in Chromium (static files from the app folder, nothing from
    the network): nothing wider than the window, and a cell's copy button puts its query on the clipboard."""
    from pathlib import Path
    from urllib.parse import urlsplit

    build(session, installed)
    installed.app_namespace = "app--42"
    analytics.refresh(session, installed, NOW)
    session.commit()
    html = admin.html("/analytics", locale)
    static = Path(__file__).resolve().parents[3] / "static"
    artifacts = Path(__file__).resolve().parents[3] / "test-artifacts" / "analytics"

    def serve(route):
        path = urlsplit(route.request.url).path
        if path.startswith("/static/") and (static / path.removeprefix("/static/")).is_file():
            return route.fulfill(path=str(static / path.removeprefix("/static/")))
        if path == "/analytics":
            return route.fulfill(body=html, content_type="text/html; charset=utf-8")
        return route.abort()

    artifacts.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        page.route("**/*", serve)
        page.goto("http://tsunagu.test/analytics")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        button = page.locator('[data-cell="r1f1"] button[data-copy]')
        expected = "metafields.app--42.last_purchase_at >= -30d AND metafields.app--42.purchase_count = 1"
        assert button.get_attribute("data-copy") == expected
        button.click()
        assert button.inner_text() == translate("analytics.copied", locale)
        page.locator("[data-cell]").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"analytics-{locale}.png"), full_page=True)
    finally:
        context.close()
