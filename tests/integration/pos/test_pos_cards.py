"""Linking a paper card at the register: card + member + the customer's phone, through card_migration."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.models.member import ExternalLink, Member, MemberStatus
from tests.integration.pos.conftest import PHONE, SHOP_A, SHOP_B, funded, installed_shop


def _paper_card(session, shop, points=800):
    holder = funded(session, shop, points, phone=PHONE, shopify_customer_id=None)
    session.add(ExternalLink(shop_id=shop.id, member_id=holder.id, source="card", code="PC-0042"))
    session.commit()
    return holder


def test_link_moves_the_cards_points_to_the_member(pos, session, caplog):
    shop = installed_shop(session, pos)
    holder = _paper_card(session, shop)
    customer = funded(session, shop, 100)
    body = {"card": "PC-0042", "member_number": customer.member_number, "factor": "09012345678"}
    with caplog.at_level(logging.INFO):
        done = pos.post("/cards/link", body)
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"outcome": "migrated", "member_number": customer.member_number}
    session.expire_all()
    assert session.get(Member, customer.id).points_available == 900
    assert session.get(Member, holder.id).status == MemberStatus.MERGED
    assert "09012345678" not in caplog.text and "PC-0042" not in caplog.text
    assert "by pos:" in caplog.text
    assert pos.post("/cards/link", body).get_json()["outcome"] == "already"


def test_wrong_phone_is_refused_and_counted(pos, session):
    shop = installed_shop(session, pos)
    _paper_card(session, shop)
    customer = funded(session, shop, 0)
    body = {"card": "PC-0042", "member_number": customer.member_number, "factor": "09000000000"}
    first = pos.post("/cards/link", body)
    assert first.status_code == 422 and first.get_json()["failures_left"] == 4
    for _ in range(4):
        pos.post("/cards/link", body)
    limited = pos.post("/cards/link", {**body, "factor": PHONE})
    assert limited.status_code == 429 and limited.get_json()["error"] == "limited"


def test_unknown_card_member_and_other_shops_card(pos, session):
    shop = installed_shop(session, pos, SHOP_A)
    shop_b = installed_shop(session, pos, SHOP_B)
    _paper_card(session, shop_b)
    customer = funded(session, shop, 0)
    body = {"card": "PC-0042", "member_number": customer.member_number, "factor": PHONE}
    response = pos.post("/cards/link", body, shop=SHOP_A)
    assert response.status_code == 404 and response.get_json()["error"] == "unknown_card"
    link = session.scalar(select(ExternalLink).where(ExternalLink.shop_id == shop_b.id))
    assert link.linked_by != "staff"
    _paper_card(session, shop)
    nobody = pos.post("/cards/link", {**body, "member_number": "123"}, shop=SHOP_A)
    assert nobody.status_code == 404 and nobody.get_json()["error"] == "unknown_member"
    assert pos.post("/cards/link", {"card": "PC-0042"}).status_code == 400
