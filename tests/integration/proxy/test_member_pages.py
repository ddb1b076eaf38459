"""The member's own pages: rank progress per basis, points schedules and history paging, purchases, ja/en."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.domain.settings import RankRules, ShopRules
from app.members.identity import member_for_customer
from app.points import spending
from app.shops.rules import save_rules
from tests.integration.proxy.conftest import buy, get

DEFAULT = RankRules()


def with_ranks(session, shop, **changes) -> None:
    save_rules(session, shop, ShopRules(ranks=replace(DEFAULT, **changes)))
    session.commit()


def progress_line(html: str) -> str:
    return re.search(r'<p class="progress-message">(.*?)</p>', html).group(1)


@pytest.mark.parametrize(
    ("lang", "expected"), [("ja", "シルバーまであと18,000円"), ("en", "¥18,000 more to Silver")]
)
def test_spend_progress_names_the_money_still_needed(client, session, installed, lang, expected):
    buy(session, installed, "7001", "12000", 20)
    html = get(client, "card", "7001", lang=lang).get_data(as_text=True)
    assert progress_line(html) == expected
    assert 'aria-valuenow="40"' in html  # 12,000 of the 30,000 from Regular to Silver


def test_points_progress_counts_base_points(client, session, installed):
    tiers = tuple(replace(t, threshold=t.threshold / 100) for t in DEFAULT.tiers)  # silver at 300 points
    with_ranks(session, installed, basis="points", tiers=tiers)
    buy(session, installed, "7001", "12000", 20)  # 120 base points
    assert progress_line(get(client, "card", "7001", lang="ja").get_data(as_text=True)) == (
        "シルバーまであと180ポイント"
    )
    assert progress_line(get(client, "card", "7001", lang="en").get_data(as_text=True)) == (
        "180 more points to Silver"
    )


def test_count_progress_counts_purchases_in_the_yearly_window(client, session, installed):
    tiers = tuple(replace(t, threshold=Decimal(i * 3)) for i, t in enumerate(DEFAULT.tiers))
    with_ranks(session, installed, basis="count", window="yearly", cycle_start_month=1, tiers=tiers)
    buy(session, installed, "7001", "3000", 0.5)
    html = get(client, "card", "7001", lang="ja").get_data(as_text=True)
    assert progress_line(html) == "シルバーまであと2回のお買い物"
    assert f"{datetime.now(UTC).year}年1月1日からのご利用で判定します" in html
    buy(session, installed, "7001", "3000", 0.2, n=1)
    en = get(client, "card", "7001", lang="en").get_data(as_text=True)
    assert progress_line(en) == "1 more purchase to Silver"


def test_the_top_rank_says_so(client, session, installed):
    buy(session, installed, "7001", "400000", 20)
    assert progress_line(get(client, "card", "7001", lang="ja").get_data(as_text=True)) == "最上位ランクです"
    assert progress_line(get(client, "card", "7001", lang="en").get_data(as_text=True)) == (
        "You have the top rank"
    )


def history_kinds(html: str) -> list[str]:
    return re.findall(r'<li class="history-line" data-kind="(\w+)">', html)


def test_points_history_pages_newest_first_without_gaps_or_repeats(client, session, installed):
    for n in range(12):  # each matured purchase is two lines: earned, then available
        buy(session, installed, "7001", "1000", 40 - n, n=n)
    member = member_for_customer(session, installed, "7001")
    spending.adjust(session, member, 50, reason="Complaint about staff member Tanaka", source_id="adj-1",
                    now=datetime.now(UTC))  # fmt: skip
    session.commit()
    first = get(client, "points", "7001", lang="ja").get_data(as_text=True)
    lines = history_kinds(first)
    assert len(lines) == 20 and lines[0] == "adjust"
    assert "Tanaka" not in first and "調整" in first  # the staff's reason is for staff only
    older = re.search(r'href="/apps/tsunagu/points\?lang=ja&amp;before=([\d.]+)"', first).group(1)
    assert 'rel="prev"' not in first
    second = get(client, "points", "7001", lang="ja", before=older).get_data(as_text=True)
    assert len(history_kinds(second)) == 5  # 25 lines in all
    assert 'rel="next"' not in second
    newer = re.search(r'after=([\d.]+)"', second).group(1)
    back = get(client, "points", "7001", lang="ja", after=newer).get_data(as_text=True)
    assert history_kinds(back) == lines
    dates = re.findall(r'<span class="muted">(\d+)年(\d+)月(\d+)日</span>', first + second)
    as_tuples = [tuple(map(int, d)) for d in dates]
    assert as_tuples == sorted(as_tuples, reverse=True)


def test_points_page_shows_pending_and_expiry_dates(client, session, installed):
    earned = datetime.now(UTC) - timedelta(days=355)
    buy(session, installed, "7001", "20000", 355)  # 200 points, expiring 365 days after the last earning
    html = get(client, "points", "7001", lang="en").get_data(as_text=True)
    expires = (earned + timedelta(days=365)).astimezone(ZoneInfo("Asia/Tokyo")).date()
    day = f"{expires:%b} {expires.day}, {expires.year}"
    assert f'<li class="expiry"><span>{day}</span><span class="minus">200 pt</span></li>' in html
    buy(session, installed, "7001", "5000", 2, n=1)  # 50 points still in the return window
    html = get(client, "points", "7001", lang="en").get_data(as_text=True)
    assert '<b class="points-pending">50 pt</b>' in html
    assert re.search(r"50 points become available on \w{3} \d+, \d{4}", html)
    # A new earning pushes the expiry of every available point back (last-activity expiry).
    assert day not in html and len(re.findall(r'<li class="expiry">', html)) == 1
    assert '<span class="tag">pending</span>' in html  # the 50 points earned but not yet available


def test_purchases_span_store_and_online_with_the_store_named(client, session, installed):
    buy(session, installed, "7001", "3300", 3, store="渋谷店")
    buy(session, installed, "7001", "5500", 1, n=1)
    ja = get(client, "purchases", "7001", lang="ja").get_data(as_text=True)
    assert ja.index("オンラインストア") < ja.index("渋谷店")  # newest first
    assert "￥5,500" in ja and "￥3,300" in ja
    en = get(client, "purchases", "7001", lang="en").get_data(as_text=True)
    assert "Online store" in en and "¥5,500" in en and "Purchase history" in en


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("ja", ["ポイント履歴", "失効予定", "お買い物"]),
        ("en", ["Points history", "Expiry schedule", "Purchases"]),
    ],
)
def test_the_pages_speak_japanese_and_english(client, session, installed, lang, words):
    buy(session, installed, "7001", "1000", 20)
    html = get(client, "points", "7001", lang=lang).get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and all(w in html for w in words)
    assert 'aria-current="page">' in html


def test_pages_need_a_signed_request_and_a_logged_in_customer(client, session, installed):
    from tests.integration.store.conftest import proxy_query

    for path in ("points", "purchases", "redeem"):
        forged = client.get(f"/proxy/{path}?{proxy_query(installed.domain, '7001', secret='nope')}")
        assert forged.status_code == 401
        assert get(client, path, None).status_code == 401
        assert get(client, path, "7001").headers["Cache-Control"] == "private, no-store"
