"""The member timeline: the history from before the install folds into one entry; the rest is paged."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.dashboard import timeline
from app.i18n import format_datetime, format_int, format_money
from app.models.types import utcnow
from app.points.ledger import post
from tests.integration.admin.factories import member, purchase, refund

IMPORTED_PURCHASES = 300
NEW_PURCHASES = 5
EARN = 10
REFUNDED = (3, 77, 150)  # imported purchases refunded before the install (500 each, EARN points back)
EXPIRED = 10  # imported lots that expired before the install
OPENING = 500


def _earn(session, shop, who, p, points=EARN):
    post(
        session,
        shop.id,
        who,
        source="shopify",
        source_id=f"order:{p.source_id}",
        kind="earn",
        legs=[("issued", None, -points), ("pending", who.id, points)],
        effective_at=p.processed_at,
        purchase_id=p.id,
    )


def _ledger(session, shop, who, kind, key, at, legs, **extra):
    post(session, shop.id, who, source=extra.pop("source", "lot"), source_id=key, kind=kind, legs=legs,
         effective_at=at, **extra)  # fmt: skip


@pytest.fixture
def history(installed, session):
    """300 purchases imported from before the install, an opening balance, and 5 purchases since."""
    shop = installed
    now = utcnow()
    shop.installed_at = now - timedelta(days=30)
    who = member(session, shop, points_available=0, points_pending=0)
    start = shop.installed_at - timedelta(days=2 * 365)
    old = []
    for i in range(IMPORTED_PURCHASES):
        at = start + timedelta(days=2 * i, hours=i % 7)
        channel = "pos" if i % 3 == 0 else "online"
        p = purchase(session, shop, who, str(1000 + i), at, channel)
        _earn(session, shop, who, p)
        old.append(p)
    for i, p in enumerate(old):
        matures = p.processed_at + timedelta(days=14)
        if p is old[-1]:
            matures = shop.installed_at + timedelta(days=1)
        if i in REFUNDED:
            refund(session, shop, p, "500", p.processed_at + timedelta(days=3))
            back = [("pending", who.id, -EARN), ("issued", None, EARN)]
            at = p.processed_at + timedelta(days=3)
            _ledger(
                session,
                shop,
                who,
                "refund_reversal",
                f"refund:{p.id}",
                at,
                back,
                purchase_id=p.id,
                source="shopify",
            )
            continue
        # The newest lot's return window closes after the install: that row belongs to recent activity.
        _ledger(session, shop, who, "mature", f"mature:{p.id}", matures,
                [("pending", who.id, -EARN), ("available", who.id, EARN)], purchase_id=p.id)  # fmt: skip
        if 10 <= i < 10 + EXPIRED:
            _ledger(session, shop, who, "expire", f"expire:{p.id}", matures + timedelta(days=365),
                    [("available", who.id, -EARN), ("expired", None, EARN)], purchase_id=p.id)  # fmt: skip
    _ledger(session, shop, who, "opening", f"opening:{who.id}", shop.installed_at - timedelta(hours=1),
            [("opening", None, -OPENING), ("available", who.id, OPENING)], source="opening")  # fmt: skip
    new = []
    for i in range(NEW_PURCHASES):
        p = purchase(session, shop, who, "5000", shop.installed_at + timedelta(days=3 + 4 * i), "pos",
                     location_name="表参道店")  # fmt: skip
        _earn(session, shop, who, p, 50)
        new.append(p)
    session.flush()
    return who, old, new


def _entries(html: str) -> list[tuple[str, str]]:
    """(kind, seq) of each timeline row, in page order."""
    return re.findall(r'<li data-kind="([a-z]+)" data-seq="(\d+)"', html)


def _link(html: str, rel: str) -> str | None:
    match = re.search(rf'href="([^"]+)" data-{rel}>', html)
    return match.group(1).replace("&amp;", "&") if match else None


def _params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _imported_pages(admin, who, locale) -> list[str]:
    """Every page of the imported view, following the older links from the first."""
    pages, params = [], {"period": "imported"}
    while True:
        html = admin.html(f"/members/{who.id}", locale, **params)
        pages.append(html)
        url = _link(html, "older")
        if url is None:
            return pages
        params = {k: v for k, v in _params(url).items() if k in ("period", "before")}


def _expected_net():
    gross = sum(Decimal(1000 + i) for i in range(IMPORTED_PURCHASES))
    return gross - Decimal(500) * len(REFUNDED)


def test_imported_history_is_one_entry_with_totals(admin, installed, session, history):
    who, old, new = history
    html = admin.html(f"/members/{who.id}", "en")
    rows = _entries(html)
    assert [k for k, _ in rows].count("purchase") == NEW_PURCHASES
    assert html.count("data-imported-group") == 1
    assert _link(html, "older") is None and _link(html, "newer") is None  # all of it fits on one page
    # The 5 new purchases at their own dates, newest first, at the store.
    stamps = [format_datetime(p.processed_at, installed.timezone, "en") for p in reversed(new)]
    positions = [html.index(s) for s in stamps]
    assert positions == sorted(positions)
    assert html.count("Purchase at 表参道店") == NEW_PURCHASES
    # The newest imported lot matured after the install: shown as recent activity, not in the group.
    assert rows.count(("points", str(_mature_seq(session, old[-1])))) == 1
    totals = dict(re.findall(r'<dd data-total="([a-z]+)">([^<]+)</dd>', html))
    assert totals["purchases"] == format_int(IMPORTED_PURCHASES, "en")
    assert totals["net"] == format_money(_expected_net(), installed.currency, "en")
    assert totals["earned"] == f"{format_int(IMPORTED_PURCHASES * EARN, 'en')} pt"
    assert totals["reversed"] == f"{format_int(len(REFUNDED) * EARN, 'en')} pt"
    assert totals["expired"] == f"{format_int(EXPIRED * EARN, 'en')} pt"
    assert totals["opening"] == f"{OPENING} pt"
    assert "History before the app was installed" in html and "Balance " in html


def test_japanese_labels(admin, installed, session, history):
    who, _old, _new = history
    html = admin.html(f"/members/{who.id}", "ja")
    assert "アプリ導入前の履歴" in html and "表参道店で購入" in html and "有効化" in html
    assert "正味金額" in html and format_money(_expected_net(), installed.currency, "ja") in html
    imported = "".join(_imported_pages(admin, who, "ja"))
    for label in ("引き継ぎ残高", "返品による取消", "失効", "有効化", "（有効化待ち）", "最近の履歴に戻る"):
        assert label in imported, label


def _mature_seq(session, p) -> int:
    from sqlalchemy import select

    from app.models.ledger import LedgerTransaction

    tx_id = session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.purchase_id == p.id, LedgerTransaction.kind == "mature"
        )
    )
    return tx_id * timeline.SEQ_STRIDE + timeline.LEDGER


def test_imported_period_pages_without_gaps_or_duplicates(admin, installed, session, history):
    who, old, _new = history
    # Every imported row: purchases (earning folded in), refunds and their reversals, matures but the
    # newest, expiries, the opening balance.
    expected = IMPORTED_PURCHASES + 2 * len(REFUNDED) + (IMPORTED_PURCHASES - len(REFUNDED) - 1) + EXPIRED + 1
    htmls = _imported_pages(admin, who, "en")
    pages = [_entries(html) for html in htmls]
    assert all("data-imported-group" not in html for html in htmls)  # the group's own view lists its rows
    seen = [row for rows in pages for row in rows]
    assert len(seen) == expected == len(set(seen))
    assert len(pages) == -(-expected // timeline.PAGE_SIZE)
    assert all(len(rows) == timeline.PAGE_SIZE for rows in pages[:-1])
    assert {seq for k, seq in seen if k == "purchase"} == {str(p.id * 8 + 1) for p in old}
    # Back up with the newer links: the same pages again.
    back = _link(htmls[-1], "newer")
    assert back is not None
    again = admin.html(
        f"/members/{who.id}", "en", **{k: v for k, v in _params(back).items() if k in ("period", "after")}
    )
    assert _entries(again) == pages[-2]


def test_service_pages_are_ordered_and_balances_add_up(installed, session, history):
    who, _old, _new = history
    size = 7
    collected, before = [], None
    while True:
        pg = timeline.page(session, installed, who, period=timeline.IMPORTED, before=before, size=size)
        collected += pg.entries
        if pg.older is None:
            break
        before = timeline.decode_cursor(pg.older)
    bought = [e for e in collected if e.kind == "purchase"]
    assert len(bought) == IMPORTED_PURCHASES and {(e.pending, e.available) for e in bought} == {(EARN, 0)}
    keys = [e.key for e in collected]
    assert keys == sorted(keys, reverse=True) and len(keys) == len(set(keys))
    for newer, older in itertools.pairwise(collected):
        assert older.balance == newer.balance - newer.available
    assert collected[-1].balance == collected[-1].available  # nothing spendable before the first entry
    recent = timeline.page(session, installed, who)
    assert recent.entries[0].balance == who.points_available  # nothing dated in the future
    imported = recent.imported
    assert imported is not None and imported.purchases == IMPORTED_PURCHASES
    assert imported.first_at == min(e.at for e in collected)


def test_recent_activity_pages_with_small_pages(installed, session, history):
    who, _old, _new = history
    first = timeline.page(session, installed, who, size=4)
    assert first.newer is None and first.older is not None
    second = timeline.page(session, installed, who, before=timeline.decode_cursor(first.older), size=4)
    assert second.older is None  # 5 purchases and one matured lot: 6 entries
    bought = [e for e in first.entries + second.entries if e.kind == "purchase"]
    assert [(e.amount, e.store, e.pending) for e in bought] == [
        (Decimal(5000), "表参道店", 50)
    ] * NEW_PURCHASES
    assert len(first.entries + second.entries) == NEW_PURCHASES + 1
    back = timeline.page(session, installed, who, after=timeline.decode_cursor(second.newer), size=4)
    assert back.entries == first.entries and back.newer is None
    assert timeline.decode_cursor("garbage") is None and timeline.decode_cursor("1.x") is None


def test_an_opening_balance_after_the_install_still_belongs_to_the_import(installed, session):
    shop = installed
    shop.installed_at = utcnow() - timedelta(days=10)
    who = member(session, shop)
    p = purchase(session, shop, who, "3000", shop.installed_at + timedelta(days=2), "online")
    _earn(session, shop, who, p)
    _ledger(session, shop, who, "opening", f"opening:{who.id}", shop.installed_at + timedelta(days=1),
            [("opening", None, -OPENING), ("available", who.id, OPENING)], source="opening")  # fmt: skip
    recent = timeline.page(session, shop, who)
    assert [e.kind for e in recent.entries] == ["purchase"]
    assert recent.entries[0].pending == EARN and recent.entries[0].balance == OPENING
    assert recent.imported is not None and recent.imported.opening == OPENING
    assert recent.imported.purchases == 0
    assert [e.label for e in timeline.page(session, shop, who, period=timeline.IMPORTED).entries] == [
        "opening"
    ]


def test_a_member_without_history_shows_no_group(admin, installed, session):
    who = member(session, installed)
    html = admin.html(f"/members/{who.id}", "ja")
    assert "data-imported-group" not in html and "data-timeline" not in html


ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "member-timeline"
ORIGIN = "http://tsunagu.test"


@pytest.mark.e2e
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_grouped_history_in_chromium(admin, installed, session, history, browser, locale):
    """The page as rendered for the admin, opened in Chromium (static files from the app folder, nothing
    from the network): the group entry is one line that opens onto its totals."""
    who, _old, _new = history
    html = admin.html(f"/members/{who.id}", locale)
    static = Path(__file__).resolve().parents[3] / "static"

    def serve(route):
        path = urlsplit(route.request.url).path
        if path.startswith("/static/") and (static / path.removeprefix("/static/")).is_file():
            return route.fulfill(path=str(static / path.removeprefix("/static/")))
        if path == f"/members/{who.id}":
            return route.fulfill(body=html, content_type="text/html; charset=utf-8")
        return route.abort()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.route("**/*", serve)
        page.goto(f"{ORIGIN}/members/{who.id}")
        group = page.locator("[data-imported-group]")
        assert group.count() == 1 and group.is_visible()
        assert not page.locator("[data-imported-totals]").first.is_visible()  # closed until asked
        group.locator("summary").click()
        totals = group.locator("[data-imported-totals]")
        assert totals.is_visible()
        assert totals.locator('[data-total="purchases"]').inner_text() == format_int(
            IMPORTED_PURCHASES, locale
        )
        # Nothing wider than the page: the long Japanese labels wrap instead of pushing the numbers out.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.locator("#timeline").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"member-{locale}.png"), full_page=True)
    finally:
        page.close()
