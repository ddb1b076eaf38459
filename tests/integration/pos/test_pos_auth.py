"""POS session tokens: forged, expired, wrong audience or shop -> 401 JSON; the shop is `dest`, only."""

from __future__ import annotations

import logging
import time

import pytest

from tests.integration.pos.conftest import PHONE, SHOP_A, SHOP_B, funded, installed_shop

# Times are taken when the test runs, not when the module is collected (a long suite would age them).
BAD = {
    "forged signature": lambda: {"key": "not-the-app-secret-but-long-enough-to-sign"},
    "wrong aud": lambda: {"aud": "another-apps-client-id"},
    "expired": lambda: {"issued_at": time.time() - 120},
    "not yet valid": lambda: {"nbf": int(time.time()) + 60},
    "iss names another shop": lambda: {"iss": f"https://{SHOP_B}/admin"},
    "dest not a shop": lambda: {"dest": "https://evil.example.com", "iss": "https://evil.example.com/admin"},
    "no exp": lambda: {"omit": ("exp",)},
    "alg none": lambda: {"algorithm": "none", "key": ""},
    "lives a year": lambda: {"lifetime": 365 * 24 * 3600},
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tokens_are_refused(pos, session, case, caplog):
    shop = installed_shop(session, pos)
    who = funded(session, shop, 100)
    with caplog.at_level(logging.INFO, logger="app.pos.auth"):
        response = pos.post("/members/lookup", {"member_number": who.member_number}, **BAD[case]())
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert who.member_number not in response.get_data(as_text=True)
    assert "pos session token refused" in caplog.text


def test_missing_or_non_bearer_authorization_is_refused(client, pos, session):
    installed_shop(session, pos)
    assert client.post("/pos/api/members/lookup", json={"code": "x"}).status_code == 401
    basic = client.post(
        "/pos/api/members/lookup", json={"code": "x"}, headers={"Authorization": "Basic eA=="}
    )
    assert basic.status_code == 401 and basic.get_json()["error"] == "unauthorized"


def test_first_call_installs_the_shop_by_token_exchange(pos, session):
    shop = installed_shop(session, pos)
    assert shop is not None and shop.is_installed and shop.token is not None


def test_another_shops_member_is_not_found(pos, session):
    installed_shop(session, pos, SHOP_A)
    shop_b = installed_shop(session, pos, SHOP_B)
    theirs = funded(session, shop_b, 500, phone=PHONE)
    for body in ({"member_number": theirs.member_number}, {"code": theirs.member_number}, {"phone": PHONE}):
        response = pos.post("/members/lookup", body, shop=SHOP_A)
        assert response.status_code == 404, body
        assert theirs.member_number not in response.get_data(as_text=True)
    # A body naming shop B changes nothing: the shop is the token's.
    body = {"member_number": theirs.member_number, "shop": SHOP_B}
    assert pos.post("/members/lookup", body, shop=SHOP_A).status_code == 404
    assert pos.post("/members/lookup", body, shop=SHOP_B).status_code == 200


def test_cross_origin_calls_get_cors_headers(client, pos, session):
    installed_shop(session, pos)
    preflight = client.options(
        "/pos/api/members/lookup", headers={"Origin": "https://extensions.shopifycdn.com"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
