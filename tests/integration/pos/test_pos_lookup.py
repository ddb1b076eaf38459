"""Lookup at the register: scanned member card, typed member number, phone (hashed) or a paper card."""

from __future__ import annotations

import logging

from app.models.member import ExternalLink
from tests.integration.admin.factories import purchase
from tests.integration.pos.conftest import PHONE, funded, installed_shop


def test_scanned_member_card_gives_the_summary(pos, session):
    shop = installed_shop(session, pos)
    who = funded(session, shop, 1200, rank="regular", line_linked=True)
    response = pos.post("/members/lookup", {"code": who.member_number})
    assert response.status_code == 200, response.get_json()
    [found] = response.get_json()["members"]
    assert found["member_number"] == who.member_number
    assert found["rank"] == "regular" and found["line_linked"] is True
    assert found["points"] == {"available": 1200, "pending": 0, "expiring_soon": 0, "expiring_on": None}
    assert found["progress"]["current"] == "regular" and found["progress"]["next"] is not None
    assert found["customer_id"] == int(who.shopify_customer_id)
    assert response.get_json()["redeem_step"] >= 1


def test_progress_counts_the_members_purchases(pos, session):
    from app.models.types import utcnow

    shop = installed_shop(session, pos)
    who = funded(session, shop, 0)
    lonely = funded(session, shop, 0)
    purchase(session, shop, who, "5000", utcnow(), channel="pos")
    session.commit()
    mine = pos.post("/members/lookup", {"member_number": who.member_number}).get_json()["members"][0]
    other = pos.post("/members/lookup", {"member_number": lonely.member_number}).get_json()["members"][0]
    assert float(mine["progress"]["value"]) > float(other["progress"]["value"])
    assert float(mine["progress"]["remaining"]) < float(other["progress"]["remaining"])


def test_phone_lookup_matches_the_hash_in_any_notation(pos, session, caplog):
    shop = installed_shop(session, pos)
    who = funded(session, shop, 10, phone=PHONE)
    with caplog.at_level(logging.INFO):
        response = pos.post("/members/lookup", {"phone": "０９０ １２３４ ５６７８"})
        missing = pos.post("/members/lookup", {"phone": "090-9999-0000"})
    assert [m["member_number"] for m in response.get_json()["members"]] == [who.member_number]
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert "5678" not in caplog.text


def test_a_scanned_paper_card_leads_to_its_member(pos, session):
    shop = installed_shop(session, pos)
    holder = funded(session, shop, 300, shopify_customer_id=None)
    session.add(ExternalLink(shop_id=shop.id, member_id=holder.id, source="card", code="PC-0042"))
    session.commit()
    response = pos.post("/members/lookup", {"code": "ＰＣ－００４２"})
    assert response.status_code == 200
    assert response.get_json()["members"][0]["member_number"] == holder.member_number
    assert response.get_json()["members"][0]["customer_id"] is None
    # Typed as a member number, a card code is not one.
    assert pos.post("/members/lookup", {"member_number": "PC-0042"}).status_code == 404


def test_bad_lookup_bodies_are_400(pos, session):
    installed_shop(session, pos)
    for body in ({}, {"code": "a", "phone": "b"}, {"code": 12}, {"code": "x" * 65}, ["code"]):
        response = pos.post("/members/lookup", body)
        assert response.status_code == 400, body
        assert response.get_json()["error"] == "bad_request"
