"""The member card behind the app proxy: signature, freshness, login, barcode, points, store purchases."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.domain.events import CustomerRef, PurchaseEvent
from app.members.identity import member_for_customer
from app.models.member import Member
from app.points.purchases import apply_purchase
from tests.integration.store.conftest import CONTRACT, proxy_query
from tests.integration.store.helpers import deliver, store_member, work
from tests.unit.store.code128 import decode_code128_svg

SHOP = "test-shop.myshopify.com"


def card(client, customer_id, **kwargs):
    return client.get(f"/proxy/card?{proxy_query(SHOP, customer_id, **kwargs)}")


def test_the_card_shows_the_member_number_as_a_barcode_that_decodes_back(client, session, shop):
    response = card(client, "7001")
    assert response.status_code == 200
    member = session.scalar(select(Member).where(Member.shopify_customer_id == "7001"))
    html = response.get_data(as_text=True)
    svg = re.search(r'<div class="barcode"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert decode_code128_svg(svg) == member.member_number
    head = svg[: svg.index(">")]
    assert "viewBox" in head and "width=" not in head  # scales to the phone's width for the scanner
    assert '<b class="rank" data-rank="regular">レギュラー</b>' in html
    assert "<svg" in re.search(r'<div class="qr">(.*?)</div>', html, re.S).group(1)
    assert f'<b class="member-number">{member.member_number}</b>' in html
    assert response.headers["Cache-Control"] == "private, no-store"


def test_a_customer_only_ever_sees_their_own_card(client, session, shop):
    mine = card(client, "7001").get_data(as_text=True)
    theirs = card(client, "7002").get_data(as_text=True)
    numbers = dict(session.execute(select(Member.shopify_customer_id, Member.member_number)).all())
    assert numbers["7001"] in mine and numbers["7002"] not in mine
    assert numbers["7002"] in theirs and numbers["7001"] not in theirs


@pytest.mark.parametrize(
    "query",
    [
        lambda: proxy_query(SHOP, "7001", secret="not-the-app-secret"),
        lambda: proxy_query(SHOP, "7001", timestamp=int(time.time()) - 600),
        lambda: proxy_query(SHOP, "7001", timestamp=int(time.time()) + 600),
        lambda: proxy_query(SHOP, "7001").replace("logged_in_customer_id=7001", "logged_in_customer_id=7002"),
        lambda: proxy_query(SHOP, "7001").split("&signature=")[0],
    ],
    ids=["forged", "stale", "future", "customer-swapped", "unsigned"],
)
def test_a_forged_stale_or_altered_request_is_refused(client, session, shop, query):
    response = client.get(f"/proxy/card?{query()}")
    assert response.status_code == 401
    assert session.scalar(select(Member.id)) is None  # nothing created for an unverified request


def test_the_previous_secret_still_verifies_during_a_rotation(client, session, shop):
    assert card(client, "7001", secret="test-api-secret-previous").status_code == 200


def test_without_a_logged_in_customer_the_card_asks_to_log_in(client, session, shop):
    response = card(client, None)
    assert response.status_code == 401
    assert "/account/login" in response.get_data(as_text=True)
    assert session.scalar(select(Member.id)) is None


def test_an_unknown_shop_gets_no_card(client, session, shop):
    response = client.get(f"/proxy/card?{proxy_query('other-shop.myshopify.com', '7001')}")
    assert response.status_code == 404


@pytest.mark.parametrize(("lang", "label"), [("ja", "利用可能ポイント"), ("en", "Points available")])
def test_the_card_speaks_japanese_and_english(client, session, shop, lang, label):
    html = card(client, "7001", extra={"lang": lang}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and label in html


def test_the_language_follows_accept_language(client, session, shop):
    response = client.get(
        f"/proxy/card?{proxy_query(SHOP, '7001')}", headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    assert "Points available" in response.get_data(as_text=True)


def test_paper_card_linking_brings_store_points_and_purchases(client, session, shop, connected, smaregi):
    smaregi_id = smaregi.add_customer(CONTRACT, "P0042", mobile="090-1111-2222")
    sale = smaregi.ring_sale(CONTRACT, "1", 12000, datetime.now(UTC) - timedelta(hours=1), smaregi_id)
    deliver(client, smaregi, "pos:transactions", "created", [sale])
    work(session)
    card(client, "7001")  # the online customer's own (empty) member exists before linking

    wrong = client.post(
        f"/proxy/card/link?{proxy_query(SHOP, '7001')}",
        data={"card_number": "P0042", "phone": "090-9999-9999"},
    )
    assert wrong.status_code == 422
    linked = client.post(
        f"/proxy/card/link?{proxy_query(SHOP, '7001')}",
        data={"card_number": "P0042", "phone": "+81 90 1111 2222"},
    )
    assert linked.status_code == 200
    html = linked.get_data(as_text=True)
    assert '<b class="points-pending">120 pt</b>' in html
    assert "渋谷店" in html and "￥12,000" in html  # CLDR: the Japanese card writes a full-width yen sign
    member = member_for_customer(session, shop, "7001")
    assert store_member(session, shop, "P0042").id == member.id


def test_paper_card_guessing_is_capped(client, session, shop, connected, smaregi):
    smaregi.add_customer(CONTRACT, "P0042", mobile="090-1111-2222")
    for attempt in range(5):
        response = client.post(
            f"/proxy/card/link?{proxy_query(SHOP, '7001')}",
            data={"card_number": f"P00{attempt}", "phone": "0"},
        )
        assert response.status_code == 422
    capped = client.post(
        f"/proxy/card/link?{proxy_query(SHOP, '7001')}",
        data={"card_number": "P0042", "phone": "090-1111-2222"},
    )
    assert capped.status_code == 422
    assert "試行回数が多すぎます" in capped.get_data(as_text=True)


def test_points_about_to_expire_are_announced(client, session, shop):
    earned = datetime.now(UTC) - timedelta(days=355)  # expires 365 days after the last earning: in 10 days
    apply_purchase(
        session,
        shop,
        PurchaseEvent(
            source="shopify",
            source_id="9001",
            shop_domain=SHOP,
            customer_ref=CustomerRef(shopify_customer_id="7001"),
            currency="JPY",
            gross_amount=Decimal("20000"),
            processed_at=earned,
            source_updated_at=earned,
            source_name="web",
        ),
    )
    html = card(client, "7001", extra={"lang": "en"}).get_data(as_text=True)
    assert '<b class="points-available">200 pt</b>' in html
    expires = (earned + timedelta(days=365)).astimezone(ZoneInfo("Asia/Tokyo")).date()
    assert f"200 points expire on {expires:%b} {expires.day}, {expires.year}" in html  # CLDR en: Nov 3, 2026
    assert "No store purchases yet" in html  # an online order is not a store purchase
