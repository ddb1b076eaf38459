"""The shopper's birth month on the points page: set once, then shown; forgeries and bad input refused."""

from __future__ import annotations

import re

import pytest

from app.members.identity import member_for_customer
from emulator.fixtures import TEST_SHOP
from tests.integration.proxy.conftest import get
from tests.integration.store.conftest import proxy_query


def form_token(client, customer: str, lang: str = "ja") -> str:
    page = get(client, "points", customer, lang=lang)
    assert page.status_code == 200, page.get_data(as_text=True)
    return re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def post(client, customer: str, data: dict[str, str], lang: str = "ja", **signing):
    query = proxy_query(TEST_SHOP, customer, extra={"lang": lang}, **signing)
    return client.post(f"/proxy/birth-month?{query}", data=data)


def birth_month(session, shop, customer: str) -> int | None:
    member = member_for_customer(session, shop, customer)
    session.refresh(member)
    return member.birth_month


@pytest.mark.parametrize(
    ("lang", "title", "first", "last"),
    [("ja", "誕生月", ">1月</option>", ">12月</option>"), ("en", "Birth month", ">January<", ">December<")],
)
def test_the_points_page_offers_the_twelve_months(client, installed, lang, title, first, last):
    html = get(client, "points", "7001", lang=lang).get_data(as_text=True)
    assert f"<h2>{title}</h2>" in html
    assert 'action="/apps/tsunagu/birth-month"' in html
    assert len(re.findall(r'<option value="\d+">', html)) == 12
    assert first in html and last in html


def test_the_month_is_taken_once_then_shown_with_who_changes_it(client, session, installed):
    token = form_token(client, "7001")
    saved = post(client, "7001", {"token": token, "month": "5"})
    assert saved.status_code == 200
    html = saved.get_data(as_text=True)
    assert "誕生月を登録しました" in html and "登録済みの誕生月：5月" in html
    assert 'name="month"' not in html  # no form any more
    assert birth_month(session, installed, "7001") == 5

    again = post(client, "7001", {"token": token, "month": "6"})  # the old form, posted a second time
    assert again.status_code == 409
    assert "誕生月は登録済みです。変更はスタッフにお申し付けください" in again.get_data(as_text=True)
    assert birth_month(session, installed, "7001") == 5

    english = get(client, "points", "7001", lang="en").get_data(as_text=True)
    assert "Birth month on file: May" in english and "please ask our staff" in english


def test_taking_the_month_makes_the_member_due_for_a_replay(client, session, installed):
    token = form_token(client, "7001")
    member = member_for_customer(session, installed, "7001")
    version = member.sync_version
    assert post(client, "7001", {"token": token, "month": "12"}).status_code == 200
    session.refresh(member)
    assert member.birth_month == 12 and member.sync_version == version + 1
    assert member.next_due_at is not None


def test_a_forged_or_unsigned_request_is_refused(client, session, installed):
    token = form_token(client, "7001")
    assert (
        post(client, "7001", {"token": token, "month": "5"}, secret="not-the-app-secret").status_code == 401
    )
    unsigned = proxy_query(TEST_SHOP, "7001").split("&signature=")[0]
    assert (
        client.post(f"/proxy/birth-month?{unsigned}", data={"token": token, "month": "5"}).status_code == 401
    )
    assert birth_month(session, installed, "7001") is None


def test_another_customers_form_or_no_form_is_refused(client, session, installed, caplog):
    token = form_token(client, "7001")  # 7001's form, posted while 7002 is logged in
    refused = post(client, "7002", {"token": token, "month": "5"}, lang="en")
    assert refused.status_code == 403
    assert "This page has expired" in refused.get_data(as_text=True)
    assert post(client, "7001", {"token": token[:-2] + "xx", "month": "5"}).status_code == 403
    assert post(client, "7001", {"month": "5"}).status_code == 403
    assert birth_month(session, installed, "7001") is None
    assert birth_month(session, installed, "7002") is None
    assert token not in caplog.text and "7002" not in caplog.text


@pytest.mark.parametrize("month", ["0", "13", "", "five", "-1", "123"])
def test_a_month_outside_one_to_twelve_is_refused(client, session, installed, month):
    token = form_token(client, "7001", lang="en")
    refused = post(client, "7001", {"token": token, "month": month}, lang="en")
    assert refused.status_code == 422
    assert "Choose a month from January to December" in refused.get_data(as_text=True)
    assert birth_month(session, installed, "7001") is None


def test_a_shopper_who_is_not_logged_in_gets_the_login_page(client, installed):
    response = post(client, "", {"month": "5"})
    assert response.status_code == 401 and "/account/login" in response.get_data(as_text=True)
