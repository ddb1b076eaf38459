"""The dashboard in Debian's Chromium, inside the emulator's admin stand-in, on the demo retailer's data."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.domain.identity import normalise_phone
from app.i18n import catalogue
from emulator.demo_data import iter_customers
from tests.e2e.conftest import ARTIFACTS, SHOP, shot
from tests.e2e.seed import WEEKEND_CAMPAIGN

pytestmark = pytest.mark.e2e

PAGES = [
    ("admin.members", "nav.members", "members"),
    ("admin.segments", "nav.segments", "segments"),
    ("admin.rules", "nav.rules", "rules"),
    ("admin.sync_health", "nav.sync", "sync"),
    ("admin.backfill", "nav.backfill", "backfill"),
    ("admin.reports", "nav.reports", "reports"),
    ("admin.analytics_page", "nav.analytics", "analytics"),
    ("admin.campaigns", "nav.campaigns", "campaigns"),
]
TITLES = {
    "members": "members.title",
    "segments": "segments.title",
    "rules": "rules.title",
    "sync": "sync.title",
    "backfill": "backfill.title",
    "reports": "reports.title",
    "analytics": "analytics.title",
    "campaigns": "campaigns.title",
}


def app_frame(page, stack):
    """The app's iframe inside the admin stand-in (cross-origin: reached through Playwright's frames)."""
    page.wait_for_selector("iframe#app")
    for _ in range(200):
        frame = next((f for f in page.frames if f.url.startswith(stack.app_origin)), None)
        if frame is not None:
            frame.locator("main#main").wait_for()
            return frame
        page.wait_for_timeout(100)
    raise AssertionError("the app never loaded in the admin's iframe")


def open_app(page, stack, locale: str, subpath: str = ""):
    """Open the app in the admin stand-in and return its frame."""
    page.goto(stack.admin_url(locale, subpath))
    return app_frame(page, stack)


def heading(frame) -> str:
    return frame.locator(".ts-page-head h1").inner_text().strip()


def wait_heading(frame, text: str):
    """After a navigation inside the iframe: wait for the new page's title (locators retry across loads)."""
    frame.locator(".ts-page-head h1").filter(has_text=re.compile(f"^\\s*{re.escape(text)}\\s*$")).wait_for()
    frame.locator("main#main").wait_for()
    return frame


def worker_round(stack) -> None:
    """What the worker's scheduled round does for the dashboard (queued jobs, summaries, analytics)."""
    from app.analytics.snapshot import run_scheduled_analytics
    from app.dashboard.jobs import run_scheduled_reports

    with stack.flask_app.app_context():
        run_scheduled_reports()
        run_scheduled_analytics()


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_every_page_loads_in_both_languages(page, stack, locale):
    messages = catalogue(locale)
    worker_round(stack)  # the home reads the summary the worker computed
    frame = open_app(page, stack, locale)
    assert heading(frame) == messages["home.title"]
    assert frame.evaluate("document.documentElement.lang") == locale
    frame.wait_for_selector("svg.ts-chart")
    shot(page, f"home-{locale}")
    for _endpoint, nav_key, name in PAGES:
        frame.locator("nav ul.ts-nav").get_by_role("link", name=messages[nav_key], exact=True).click()
        frame = wait_heading(frame, messages[TITLES[name]])
        body = frame.locator("body").inner_text()
        assert "Internal Server Error" not in body and "Traceback" not in body
        assert frame.evaluate("document.documentElement.lang") == locale
        shot(page, f"{name}-{locale}")
        if name == "analytics":  # the campaigns against their holdout, at the foot of the page
            frame.locator("tr[data-campaign]").first.scroll_into_view_if_needed()
            shot(page, f"analytics-campaigns-{locale}")
    assert page.js_errors == []


def test_pages_read_well_without_shopify_cdn(page, stack):
    frame = open_app(page, stack, "ja")
    # polaris.js lives on Shopify's CDN, which this machine cannot reach: the components stay undefined...
    assert frame.evaluate("customElements.get('s-page') === undefined")
    # ...and the local stylesheet (Polaris tokens) still lays the page out: white cards, Japanese fonts.
    card = frame.locator("s-section").first
    assert card.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    assert card.evaluate("e => getComputedStyle(e).display") == "block"
    font = frame.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK JP" in font
    assert frame.evaluate("getComputedStyle(document.querySelector('s-app-nav')).display") == "none"


def _member_with_phone(stack):
    """A seeded customer's phone as staff type it (090-1234-5678), and the customer's member."""
    from app.extensions import db
    from app.models import Member

    for customer in iter_customers(stack.spec):
        e164 = normalise_phone(customer.get("phone"))
        if not e164 or not e164.startswith("+8190"):  # the acceptance asks for the 090- form
            continue
        national = "0" + e164[3:]
        typed = f"{national[:3]}-{national[3:7]}-{national[7:]}"
        with stack.flask_app.app_context():
            member = db.session.scalar(
                select(Member).where(
                    Member.shopify_customer_id == str(customer["id"]), Member.status == "active"
                )
            )
            if member is not None:
                return typed, member.member_number, member.id, member.points_available
    raise AssertionError("no seeded member with a phone number")


def test_search_by_phone_then_adjust_points(page, stack):
    typed, number, member_id, before = _member_with_phone(stack)
    ja = catalogue("ja")
    frame = open_app(page, stack, "ja", "members")
    frame.fill("#q", typed)
    frame.press("#q", "Enter")
    frame = wait_heading(frame, ja["members.title"])
    frame.wait_for_selector("[data-search-kind='phone']")
    row = frame.locator(f"tr[data-member-id='{member_id}']")
    assert row.locator("a").inner_text().strip() == number
    shot(page, "members-search-phone-ja")

    row.locator("a").click()
    frame = wait_heading(frame, ja["member.title"].format(number=number))
    form = frame.locator("#adjust-form")
    # Validation: a clear message in the user's language beside the field, nothing posted.
    form.locator("input[name=points]").fill("たくさん")
    form.locator("button[type=submit]").click()
    form.locator("[data-error-for=points]").filter(has_text=ja["form.integer"]).wait_for()
    assert form.locator("[data-error-for=reason]").inner_text() == ja["form.required"]
    shot(page, "member-validation-ja")

    form.locator("input[name=points]").fill("500")
    form.locator("input[name=reason]").fill("来店キャンペーン")
    form.locator("button[type=submit]").click()
    frame.locator("[data-points-available]", has_text=f"{before + 500:,} pt").wait_for()
    timeline = frame.locator("[data-timeline]").inner_text()
    assert "来店キャンペーン" in timeline and ja["ledger.adjust"] in timeline
    shot(page, "member-after-adjust-ja")


def test_rank_rule_change_with_preview(page, stack):
    from app.extensions import db
    from app.models import Shop
    from app.shops.rules import load_rules

    en = catalogue("en")
    frame = open_app(page, stack, "en", "settings/rules")
    form = frame.locator("#rules-form")
    # A threshold that does not rise: refused with a message beside the field.
    form.locator("#r-tier_threshold_1").fill("0")
    form.locator("button[data-action=preview]").click()
    form.locator("[data-error-for=tier_threshold_1]").filter(has_text=en["rules.threshold_rise"]).wait_for()

    form.locator("#r-tier_threshold_1").fill("10000")
    form.locator("button[data-action=preview]").click()
    frame.locator("[data-preview-job]").wait_for()  # queued: the fragment polls for the worker's result
    worker_round(stack)
    preview = frame.locator("[data-preview]")
    preview.wait_for()
    up = int(preview.get_attribute("data-up"))
    assert up > 0, "lowering silver to 10,000 must lift some regulars"
    shot(page, "rules-preview-en")
    with stack.flask_app.app_context():
        shop = db.session.scalar(select(Shop).where(Shop.domain == SHOP))
        assert load_rules(shop).ranks.tiers[1].threshold == 30000  # a preview saves nothing

    form.locator("button[data-action=save]").click()
    # The server-rendered value attribute changes only once the page has reloaded with the saved rules.
    frame.locator("#r-tier_threshold_1[value='10000']").wait_for()
    with stack.flask_app.app_context():
        db.session.expire_all()
        shop = db.session.scalar(select(Shop).where(Shop.domain == SHOP))
        assert load_rules(shop).ranks.tiers[1].threshold == 10000


def test_month_end_close_and_csv_download(page, stack):
    from app.dashboard.close_csv import HEADER
    from app.extensions import db
    from app.models import BackfillJob, Member, MonthEndClose, Shop

    with stack.flask_app.app_context():  # a month closes once the shop's history import is done
        shop = db.session.scalar(select(Shop).where(Shop.domain == SHOP))
        for kind in ("customers", "orders"):
            db.session.add(BackfillJob(shop_id=shop.id, kind=kind, status="done"))
        db.session.commit()
    ja = catalogue("ja")
    frame = open_app(page, stack, "ja", "reports")
    period = frame.locator("#close-period").input_value()
    assert re.fullmatch(r"\d{4}-\d{2}", period)
    frame.locator("#close-form button[type=submit]").click()
    frame.locator(f"tr[data-close='{period}']").wait_for()
    shot(page, "reports-closed-ja")
    with page.expect_download() as download_info:
        frame.locator(f"tr[data-close='{period}'] a[data-ts-download]").click()
    download = download_info.value
    assert download.suggested_filename == f"tsunagu-points-{period}.csv"
    path = ARTIFACTS / download.suggested_filename
    download.save_as(str(path))
    text = path.read_bytes().decode("utf-8-sig")  # as sent: CRLF rows, a BOM for Excel
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == HEADER
    month = dict(zip(HEADER, next(r for r in rows if r[0] == "month"), strict=True))
    assert month["key"] == period
    figure = {k: int(month[k]) for k in HEADER[2:14]}
    moved = figure["earned"] - figure["reversed"] - figure["redeemed"] - figure["expired"]
    moved += figure["imported"] + figure["adjusted"] + figure["other"]
    assert figure["outstanding"] == figure["opening"] + moved
    assert figure["outstanding"] == figure["pending"] + figure["available"] + figure["held"]
    with stack.flask_app.app_context():
        stored = db.session.scalar(select(MonthEndClose).where(MonthEndClose.period == period))
        assert stored.csv == text
        active = db.session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.shop_id == stored.shop_id, Member.status == "active")
        )
    # The rank snapshot counts every active member at month end.
    assert sum(int(r[HEADER.index("members")]) for r in rows if r[0] == "rank") == active
    assert ja["reports.download"] in frame.locator(f"tr[data-close='{period}']").inner_text()


def test_backfill_progress_updates_without_reload(page, stack):
    from app.extensions import db
    from app.models import BackfillJob, Shop
    from app.models.types import utcnow

    with stack.flask_app.app_context():
        shop = db.session.scalar(select(Shop).where(Shop.domain == SHOP))
        job = BackfillJob(
            shop_id=shop.id, kind="orders", status="downloading", total=1000, done=100,
            started_at=utcnow() - timedelta(seconds=50),
        )  # fmt: skip
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    en = catalogue("en")
    frame = open_app(page, stack, "en", "backfill")
    frame.evaluate("window.__sameDocument = true")
    assert "100 / 1,000" in frame.locator("[data-job=orders]").inner_text()
    shot(page, "backfill-running-en")
    with stack.flask_app.app_context():
        row = db.session.get(BackfillJob, job_id)
        row.done = 600  # what the backfill worker writes as it streams the JSONL
        db.session.commit()
    frame.locator("[data-job=orders][data-done='600']").wait_for(timeout=15_000)
    assert "600 / 1,000" in frame.locator("[data-job=orders]").inner_text()
    assert frame.evaluate("window.__sameDocument === true"), "the page must update in place, not reload"
    with stack.flask_app.app_context():
        row = db.session.get(BackfillJob, job_id)
        row.done, row.status, row.finished_at = 1000, "done", utcnow()
        db.session.commit()
    frame.locator("[data-job=orders][data-status='done']").wait_for(timeout=15_000)
    assert en["backfill.status.done"] in frame.locator("[data-job=orders]").inner_text()
    shot(page, "backfill-done-en")


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_campaigns_validate_show_results_and_preview(page, stack, locale):
    from app.extensions import db
    from app.models import Campaign

    messages = catalogue(locale)
    frame = open_app(page, stack, locale, "campaigns")
    assert frame.locator("table[data-table=campaigns] tbody tr").count() >= 2
    # A multiplier of 1 is no campaign: refused beside the field, in the page's language.
    form = frame.locator("#new-campaign-form")
    form.locator("#cp-name").fill("2x")
    form.locator("#cp-multiplier").fill("1")
    form.locator("button[type=submit]").click()
    form.locator("[data-error-for=multiplier]").filter(
        has_text=messages["form.min"].format(min="1.01")
    ).wait_for()
    shot(page, f"campaigns-validation-{locale}")

    frame.locator("table[data-table=campaigns] a", has_text=WEEKEND_CAMPAIGN).click()
    frame = wait_heading(frame, messages["campaigns.detail_title"].format(name=WEEKEND_CAMPAIGN))
    assert int(frame.locator("[data-kpi=reached] dd").inner_text().replace(",", "")) > 0
    frame.locator("#campaign-preview-form button[data-action=preview]").click()
    frame.locator("[data-preview]").wait_for()
    shot(page, f"campaign-{locale}")
    with stack.flask_app.app_context():
        draft = db.session.scalar(select(Campaign).where(Campaign.status == "draft").order_by(Campaign.id))
    frame = open_app(page, stack, locale, f"campaigns/{draft.id}")
    assert heading(frame) == messages["campaigns.detail_title"].format(name=draft.name)
    frame.locator("#campaign-edit-form").wait_for()
    shot(page, f"campaign-draft-{locale}")
    assert page.js_errors == []
