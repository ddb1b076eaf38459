"""Self-service redemption through the app proxy: success, not enough points, double submit, forgeries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.members.identity import member_for_customer
from app.models.rewards import Redemption
from app.points import spending
from app.proxy.redeem import token_for
from emulator.fixtures import TEST_SHOP
from tests.integration.proxy.conftest import buy, get
from tests.integration.store.conftest import proxy_query


@pytest.fixture
def rich(session, installed, remote):
    """Customer 7001 (known to Shopify) with 500 available points; 7002 with 300."""
    for cid, amount in (("7001", "50000"), ("7002", "30000")):
        remote.add_customer(id=int(cid), email=f"{cid}@example.com")
        buy(session, installed, cid, amount, 20)
    return member_for_customer(session, installed, "7001")


def confirm(client, customer: str, points: int, lang: str = "ja") -> str:
    response = get(client, "redeem", customer, lang=lang, points=str(points))
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def submit(client, customer: str, token: str, **query):
    return client.post(
        f"/proxy/redeem?{proxy_query(TEST_SHOP, customer, extra=query)}", data={"token": token}
    )


def redemptions(session) -> int:
    return session.scalar(select(func.count(Redemption.id)))


def test_the_shopper_picks_an_amount_confirms_and_gets_a_code(client, session, rich, remote):
    picker = get(client, "redeem", "7001", lang="ja").get_data(as_text=True)
    assert re.findall(r'<option value="(\d+)">', picker) == ["100", "200", "300", "400", "500"]
    assert '<option value="300">300 pt → ￥300</option>' in picker
    page = get(client, "redeem", "7001", lang="ja", points="300").get_data(as_text=True)
    assert "300ポイントを￥300引きの割引コードに交換します" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = submit(client, "7001", token, lang="ja")
    assert done.status_code == 200
    code = re.search(r'data-code="(TSU-[A-Z0-9]+)"', done.get_data(as_text=True)).group(1)
    discount = next(d for d in remote.discounts.values() if d["code"] == code)
    assert discount["customer_ids"] == [7001] and discount["usage_limit"] == 1
    session.refresh(rich)
    assert (rich.points_available, rich.points_held) == (200, 300)
    row = session.scalar(select(Redemption))
    assert row.requested_by == "member" and row.member_id == rich.id
    again = get(client, "redeem", "7001", lang="en").get_data(as_text=True)
    assert code in again and "Your discount codes" in again  # the open code stays reachable


def test_a_double_submit_gets_the_same_code_and_takes_the_points_once(client, session, rich):
    token = confirm(client, "7001", 200)
    first = submit(client, "7001", token).get_data(as_text=True)
    second = submit(client, "7001", token).get_data(as_text=True)
    code = re.search(r'data-code="([^"]+)"', first).group(1)
    assert re.search(r'data-code="([^"]+)"', second).group(1) == code
    assert redemptions(session) == 1
    session.refresh(rich)
    assert rich.points_available == 300


@pytest.mark.parametrize(("lang", "message"), [("ja", "ポイントが足りません（利用可能: 100 ポイント）"),
                                               ("en", "Not enough points (available: 100)")])  # fmt: skip
def test_not_enough_points_is_refused_with_a_clear_message(client, session, rich, lang, message):
    token = confirm(client, "7001", 500, lang)
    spending.spend(session, rich, 400, source="shopify", source_id="pos-spend-1", now=datetime.now(UTC))
    session.commit()
    refused = submit(client, "7001", token, lang=lang)
    assert refused.status_code == 422
    assert message in refused.get_data(as_text=True)
    assert redemptions(session) == 0
    asked = get(client, "redeem", "7001", lang=lang, points="500")  # the confirmation refuses it up front
    assert asked.status_code == 422 and message in asked.get_data(as_text=True)


def test_amounts_off_the_steps_are_refused(client, session, installed, rich):
    for points in ("150", "0", "-100", "abc", "99999999"):
        response = get(client, "redeem", "7001", lang="en", points=points)
        assert response.status_code == 422
        assert "Choose a multiple of 100 points" in response.get_data(as_text=True)
    assert submit(client, "7001", token_for(installed, "7001", 150)).status_code == 422
    assert redemptions(session) == 0


def test_a_forged_signature_is_refused_and_nothing_is_redeemed(client, session, rich):
    token = confirm(client, "7001", 100)
    query = proxy_query(TEST_SHOP, "7001", secret="not-the-app-secret")
    assert client.post(f"/proxy/redeem?{query}", data={"token": token}).status_code == 401
    unsigned = proxy_query(TEST_SHOP, "7001").split("&signature=")[0]
    assert client.post(f"/proxy/redeem?{unsigned}", data={"token": token}).status_code == 401
    assert redemptions(session) == 0


def test_another_customers_token_or_a_made_up_one_is_refused(client, session, installed, rich, caplog):
    token = confirm(client, "7001", 100)  # 7001's confirmation, posted while 7002 is logged in
    refused = submit(client, "7002", token, lang="en")
    assert refused.status_code == 403
    assert "This page has expired" in refused.get_data(as_text=True)
    assert submit(client, "7001", token[:-2] + "xx").status_code == 403
    assert submit(client, "7001", "").status_code == 403
    assert redemptions(session) == 0
    assert token not in caplog.text and "7002" not in caplog.text  # no tokens or customers in the logs
    other = member_for_customer(session, installed, "7002")
    assert other.points_available == 300


def test_without_enough_for_one_step_the_page_says_how_many_are_missing(client, session, installed):
    buy(session, installed, "7003", "4000", 20)  # 40 points
    html = get(client, "redeem", "7003", lang="ja").get_data(as_text=True)
    assert "あと60ポイントで交換できます" in html and "<select" not in html
