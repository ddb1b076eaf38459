"""The history page through the routes: the past-purchases choice with its preview, and opening balances."""

from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.i18n import catalogue
from app.models.types import utcnow
from app.points import history
from app.points.engine import rebuild_members
from app.shops.rules import load_rules
from tests.integration.admin.factories import member, purchase


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_the_page_renders_in_both_languages(admin, installed, locale):
    words = catalogue(locale)
    html = admin.html("/settings/history", locale)
    assert f'<html lang="{locale}">' in html
    for key in ("history.points_title", "history.counts_always", "opening.title", "opening.upload_button"):
        assert words[key] in html
    assert 'data-current="all"' in html  # a fresh shop: every purchase earns points
    assert 'href="/settings/history?' in admin.html("/settings/rules", locale)  # in the app's navigation


@pytest.fixture
def shop_with_history(installed, session):
    """A shop installed 30 days ago whose member bought 200, 60 and 5 days ago (100, 50 and 20 points)."""
    now = utcnow()
    installed.installed_at = now - timedelta(days=30)
    who = member(session, installed)
    for days, amount in ((200, "10000"), (60, "5000"), (5, "2000")):
        purchase(session, installed, who, amount, now - timedelta(days=days))
    rebuild_members(session, installed, [who.id], now)
    session.refresh(who)
    assert (who.points_available, who.points_pending) == (150, 20)
    return installed, who


def test_preview_counts_what_each_choice_would_earn_and_saves_nothing(admin, shop_with_history):
    shop, _ = shop_with_history
    none = admin.post("/settings/history/preview", {"mode": "none"})
    body = none.get_json()
    assert none.status_code == 200 and body["ok"]
    assert 'data-points="20"' in body["html"] and 'data-purchases="1"' in body["html"]
    day = (utcnow() - timedelta(days=90)).astimezone(ZoneInfo(shop.timezone)).date()
    since = admin.post("/settings/history/preview", {"mode": "since", "since_date": day.isoformat()})
    assert 'data-points="70"' in since.get_json()["html"]
    everything = admin.post("/settings/history/preview", {"mode": "all"})
    assert 'data-points="170"' in everything.get_json()["html"]
    assert load_rules(shop).points.earn_since is None


def test_saving_none_takes_back_points_of_purchases_before_the_install(admin, shop_with_history, session):
    shop, who = shop_with_history
    response = admin.post("/settings/history", {"mode": "none"}, "ja")
    body = response.get_json()
    assert response.status_code == 200 and body["reload"] is True
    assert body["message"] == catalogue("ja")["history.saved"].format(members="1")
    session.refresh(shop)
    assert load_rules(shop).points.earn_since == shop.installed_at
    session.refresh(who)
    assert (who.points_available, who.points_pending) == (0, 20)
    assert 'data-current="none"' in admin.html("/settings/history")
    again = admin.post("/settings/history", {"mode": "none"})
    assert again.get_json()["message"] == catalogue("en")["history.unchanged"]


def test_saving_a_date_stores_the_shops_local_midnight(admin, shop_with_history, session):
    shop, who = shop_with_history
    zone = ZoneInfo(shop.timezone)
    day = (utcnow() - timedelta(days=90)).astimezone(zone).date()
    admin.post("/settings/history", {"mode": "since", "since_date": day.isoformat()})
    session.refresh(shop)
    since = load_rules(shop).points.earn_since
    assert since.astimezone(zone).date() == day and since.astimezone(zone).hour == 0
    session.refresh(who)
    assert (who.points_available, who.points_pending) == (50, 20)
    assert f'value="{day.isoformat()}"' in admin.html("/settings/history")


def test_the_choice_is_validated_in_the_users_language(admin, installed):
    ja = catalogue("ja")
    future = (utcnow() + timedelta(days=3)).astimezone(ZoneInfo(installed.timezone)).date()
    response = admin.post(
        "/settings/history/preview", {"mode": "since", "since_date": future.isoformat()}, "ja"
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["since_date"] == ja["history.since_future"]
    missing = admin.post("/settings/history", {"mode": "since", "since_date": ""}, "ja")
    assert missing.get_json()["errors"]["since_date"] == ja["form.required"]
    assert admin.post("/settings/history", {"mode": "maybe"}).status_code == 422


def upload(admin, text: bytes | str, locale: str = "en", name: str = "old.csv"):
    data = text.encode() if isinstance(text, str) else text
    return admin.post("/settings/history/opening", {"file": (io.BytesIO(data), name)}, locale)


def test_a_bad_file_gets_a_line_numbered_report_in_japanese(admin, installed, session):
    who = member(session, installed)
    response = upload(
        admin, f"会員番号,ポイント残高\n{who.member_number},100\n{who.member_number}0,x\n", "ja"
    )
    body = response.get_json()
    ja = catalogue("ja")
    assert response.status_code == 422 and body["ok"] is False
    assert body["message"] == ja["opening.rejected"].format(count="1")
    html = body["html"]
    assert 'data-line="3"' in html and 'data-line="2"' not in html
    assert ja["opening.problem.balance_not_number"].format(column=ja["opening.column.balance"]) in html
    session.refresh(who)
    assert who.points_available == 0
    page = admin.html("/settings/history", "ja")
    assert 'data-status="rejected"' in page and "old.csv" in page


def test_a_good_file_applies_once(admin, installed, session):
    who = member(session, installed)
    text = f"Member number,Balance,Expiry\n{who.member_number},300,2099-12-31\n"
    first = upload(admin, text)
    assert first.status_code == 200
    assert first.get_json()["message"] == catalogue("en")["opening.applied"].format(rows="1", points="300")
    again = upload(admin, text, name="again.csv")
    assert again.status_code == 200 and 'data-status="already_applied"' in again.get_json()["html"]
    session.refresh(who)
    assert who.points_available == 300


def test_upload_without_a_file_or_too_large(admin, installed):
    empty = admin.post("/settings/history/opening", {}, "ja")
    assert empty.status_code == 422
    assert empty.get_json()["errors"]["file"] == catalogue("ja")["opening.choose_file"]
    # Larger than the app's usual 2 MB request cap but within the file limit: read, not refused.
    big = upload(admin, "会員番号,ポイント,メモ\nA1,1," + "x" * (3 * 1024 * 1024) + "\n")
    assert big.status_code == 422 and 'data-line="2"' in big.get_json()["html"]
    huge = admin.client.post(
        "/settings/history/opening?locale=ja",
        data={"file": (io.BytesIO(b"x" * (6 * 1024 * 1024)), "huge.csv")},
        headers={"Authorization": f"Bearer {admin.mint()}", "Accept": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.get_json()["message"] == catalogue("ja")["opening.problem.too_large"].format(max=5)


def test_many_members_are_rebuilt_in_the_background(admin, shop_with_history, session, monkeypatch):
    _, who = shop_with_history
    monkeypatch.setattr(history, "INLINE_MEMBERS", 0)
    body = admin.post("/settings/history", {"mode": "none"}).get_json()
    assert body["message"] == catalogue("en")["history.saved_queued"].format(members="1")
    session.refresh(who)
    assert who.points_available == 150  # not yet: the worker rebuilds
    assert "data-rebuilds" in admin.html("/settings/history")
    assert history.run_rebuilds() == 1
    session.refresh(who)
    assert (who.points_available, who.points_pending) == (0, 20)
    assert "data-rebuilds" not in admin.html("/settings/history")
