"""Members: search by phone, email or number, the member page, staff actions validated in both languages."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from app.domain.identity import email_hash, phone_hash
from app.i18n import catalogue
from app.members.identity import hash_key
from app.models import Member, Shop
from app.models.types import utcnow
from tests.integration.admin.factories import member, purchase


def _with_contact(session, shop, phone=None, email=None, **fields) -> Member:
    row = member(session, shop, **fields)
    row.phone_hash = phone_hash(hash_key(), shop.id, phone) if phone else None
    row.email_hash = email_hash(hash_key(), shop.id, email) if email else None
    session.flush()
    return row


def test_phone_in_any_notation_finds_the_member(admin, installed, session):
    target = _with_contact(session, installed, phone="+81 90 1234 5678")
    _with_contact(session, installed, phone="080-9999-0000")
    for typed in ("090-1234-5678", "09012345678", "０９０１２３４５６７８"):
        html = admin.html("/members", "ja", q=typed)
        assert 'data-search-kind="phone"' in html
        assert f'data-member-id="{target.id}"' in html
        assert html.count("data-member-id=") == 1


def test_email_is_matched_whatever_its_case(admin, installed, session):
    target = _with_contact(session, installed, email="hanako@example.jp")
    html = admin.html("/members", "en", q="  Hanako@Example.JP ")
    assert f'data-member-id="{target.id}"' in html


def test_member_number_search_and_no_result_message(admin, installed, session):
    target = member(session, installed)
    assert f'data-member-id="{target.id}"' in admin.html("/members", "en", q=target.member_number)
    html = admin.html("/members", "ja", q="070-0000-0000")
    assert "data-empty" in html and "に一致する会員はいません" in html


def test_member_page_shows_timeline_across_channels(admin, installed, session):
    installed.installed_at = utcnow() - timedelta(days=30)  # purchases after install are listed one by one
    who = member(session, installed, rank="silver")
    purchase(session, installed, who, "12000", utcnow() - timedelta(days=3), "pos", location_name="渋谷店")
    purchase(session, installed, who, "25000", utcnow() - timedelta(days=1), "online")
    html = admin.html(f"/members/{who.id}", "ja")
    assert "渋谷店で購入" in html and "オンラインストア" in html
    assert "オムニチャネル" in html  # the channel mix from the unified history


def test_adjust_points_validates_then_posts_once(admin, installed, session):
    who = member(session, installed, points_available=0)
    ja = catalogue("ja")
    bad = admin.post(f"/members/{who.id}/points", {"points": "", "reason": "", "key": "k1"}, "ja")
    assert bad.status_code == 422
    assert bad.get_json()["errors"] == {"points": ja["form.required"], "reason": ja["form.required"]}
    too_much = admin.post(f"/members/{who.id}/points", {"points": "-50", "reason": "x", "key": "k1"}, "en")
    assert too_much.status_code == 422 and "Only 0 pt" in too_much.get_json()["errors"]["points"]

    ok = admin.post(
        f"/members/{who.id}/points", {"points": "+500", "reason": "来店キャンペーン", "key": "k1"}
    )
    assert ok.status_code == 200 and ok.get_json()["ok"] is True
    again = admin.post(
        f"/members/{who.id}/points", {"points": "500", "reason": "来店キャンペーン", "key": "k1"}
    )
    assert again.get_json()["message"] == catalogue("en")["member.already_done"]
    session.refresh(who)
    assert who.points_available == 500  # the same form submitted twice posts once


def test_rank_floor_needs_a_future_date(admin, installed, session):
    who = member(session, installed)
    past = admin.post(f"/members/{who.id}/rank-floor", {"rank": "gold", "expires": "2020-01-01"}, "ja")
    assert (
        past.status_code == 422
        and past.get_json()["errors"]["expires"] == catalogue("ja")["form.date_future"]
    )
    wrong = admin.post(f"/members/{who.id}/rank-floor", {"rank": "diamond", "expires": "2099-01-01"})
    assert wrong.status_code == 422 and "rank" in wrong.get_json()["errors"]
    later = (date.today() + timedelta(days=30)).isoformat()
    ok = admin.post(f"/members/{who.id}/rank-floor", {"rank": "gold", "expires": later})
    assert ok.status_code == 200
    session.refresh(who)
    assert who.rank_floor == "gold" and who.rank == "gold"


def test_another_shops_member_is_not_found(admin, installed, session):
    other = Shop(domain="other-shop.myshopify.com", name="Other")
    session.add(other)
    session.flush()
    theirs = member(session, other, points_available=100)
    assert admin.page(f"/members/{theirs.id}").status_code == 404
    response = admin.post(f"/members/{theirs.id}/points", {"points": "-100", "reason": "x", "key": "z"})
    assert response.status_code == 404
    session.refresh(theirs)
    assert theirs.points_available == 100


def test_actions_without_a_session_token_are_refused(client, installed, session):
    who = member(session, installed)
    response = client.post(f"/members/{who.id}/points", data={"points": "5", "reason": "x", "key": "k"})
    assert response.status_code == 401
    assert response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_name_search_asks_shopify_and_stores_no_name(admin, installed, session, emulator_state):
    shopify = emulator_state.shop("test-shop.myshopify.com")
    hanako = shopify.add_customer(first_name="花子", last_name="佐藤", email="hanako@example.jp")
    shopify.add_customer(first_name="太郎", last_name="鈴木")
    target = member(session, installed, shopify_customer_id=str(hanako["id"]))
    html = admin.html("/members", "ja", q="佐藤")
    assert 'data-search-kind="name"' in html
    assert f'data-member-id="{target.id}"' in html and "花子" in html
    assert html.count("data-member-id=") == 1
    session.refresh(target)
    assert "佐藤" not in repr(vars(target))  # shown, never stored


def test_name_search_says_so_when_shopify_refuses(admin, installed, app):
    # What Shopify answers an app without protected customer data access to names.
    denied = {
        "errors": [{"message": "Access denied for customers field.", "extensions": {"code": "ACCESS_DENIED"}}]
    }
    app.config["SHOPIFY_TRANSPORT"] = httpx.MockTransport(lambda request: httpx.Response(200, json=denied))
    html = admin.html("/members", "en", q="Sato")
    assert catalogue("en")["members.name_search_unavailable"] in html
