"""Points to a single-use code at the register: bound to the member's customer, idempotent by the key."""

from __future__ import annotations

from sqlalchemy import select

from app.models.member import Member
from app.models.rewards import Redemption
from tests.integration.pos.conftest import SHOP_A, SHOP_B, funded, installed_shop, new_key


def _customer(pos, domain: str = SHOP_A) -> str:
    return str(pos.emu.state.shop(domain).add_customer(first_name="花子", last_name="佐藤")["id"])


def test_redeem_issues_a_code_bound_to_the_customer_once_per_key(pos, session):
    shop = installed_shop(session, pos)
    who = funded(session, shop, 800, shopify_customer_id=_customer(pos))
    body = {"member_number": who.member_number, "points": 500, "key": new_key()}
    first = pos.post("/redemptions", body)
    assert first.status_code == 200, first.get_json()
    issued = first.get_json()
    assert issued["code"].startswith("TSU-") and issued["points"] == 500
    assert issued["customer_id"] == int(who.shopify_customer_id)
    again = pos.post("/redemptions", body)
    assert again.get_json()["code"] == issued["code"]
    rows = session.scalars(select(Redemption).where(Redemption.member_id == who.id)).all()
    assert len(rows) == 1 and rows[0].status == "active" and rows[0].discount_gid
    session.expire_all()
    assert session.get(Member, who.id).points_available == 300
    # Shopify has the code, usable once, for that customer only.
    discounts = pos.emu.state.shop(SHOP_A).discounts
    [made] = [d for d in discounts.values() if issued["code"] in str(d)]
    assert made["usage_limit"] == 1 and made["customer_ids"] == [int(who.shopify_customer_id)]
    reused = pos.post("/redemptions", {**body, "points": 200})
    assert reused.status_code == 409 and reused.get_json()["error"] == "key_reused"


def test_redeem_refuses_too_many_points_and_store_only_members(pos, session):
    shop = installed_shop(session, pos)
    who = funded(session, shop, 100, shopify_customer_id=_customer(pos))
    store_only = funded(session, shop, 100, shopify_customer_id=None)
    too_many = pos.post("/redemptions", {"member_number": who.member_number, "points": 200, "key": new_key()})
    assert too_many.status_code == 422 and too_many.get_json()["error"] == "not_enough_points"
    no_customer = pos.post(
        "/redemptions", {"member_number": store_only.member_number, "points": 100, "key": new_key()}
    )
    assert no_customer.status_code == 422 and no_customer.get_json()["error"] == "no_customer"
    session.expire_all()
    assert session.get(Member, who.id).points_available == 100


def test_redeem_validates_its_body(pos, session):
    shop = installed_shop(session, pos)
    who = funded(session, shop, 100, shopify_customer_id=_customer(pos))
    number = who.member_number
    for body in (
        {"member_number": number, "points": "50", "key": new_key()},
        {"member_number": number, "points": True, "key": new_key()},
        {"member_number": number, "points": 50, "key": "short"},
        {"member_number": number, "points": 50, "key": "bad key with spaces!!"},
        {"points": 50, "key": new_key()},
    ):
        assert pos.post("/redemptions", body).status_code == 400, body
    for points in (0, -5, 10**9, 150):
        response = pos.post("/redemptions", {"member_number": number, "points": points, "key": new_key()})
        assert response.status_code == 422 and response.get_json()["error"] == "bad_amount"


def test_another_shops_member_cannot_be_redeemed(pos, session):
    installed_shop(session, pos, SHOP_A)
    shop_b = installed_shop(session, pos, SHOP_B)
    theirs = funded(session, shop_b, 500, shopify_customer_id=_customer(pos, SHOP_B))
    body = {"member_number": theirs.member_number, "points": 100, "key": new_key()}
    response = pos.post("/redemptions", body, shop=SHOP_A)
    assert response.status_code == 404
    assert session.scalars(select(Redemption)).all() == []
    session.expire_all()
    assert session.get(Member, theirs.id).points_available == 500
