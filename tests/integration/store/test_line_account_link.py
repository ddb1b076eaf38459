"""LINE's account link: link token in the chat, nonce after the storefront login, accountLink, refusals."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from app.integrations.line.accountlink import dialog_url
from app.integrations.line.links import connect_line
from app.members.identity import member_for_customer
from app.models import Shop
from app.models.integrations import LineLink, LineLinkNonce, LineMessage
from app.models.types import utcnow
from emulator.line import account_link_event, postback_event
from tests.integration.store.conftest import proxy_query
from tests.integration.store.test_line import SHOP, USER, line_post, link, link_page

OTHER_USER = "U" + "b" * 32


def nonce_of(location: str) -> str:
    return parse_qs(urlparse(location).query)["nonce"][0]


def links(session) -> list[tuple[str, str]]:
    return [(r.shopify_customer_id, r.line_user_id) for r in session.scalars(select(LineLink)).all()]


def test_the_link_page_sends_the_customer_to_lines_dialog_with_a_strong_nonce(
    client, session, shop, line_connected, line_api
):
    response = link_page(client)
    location = urlparse(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "access.line.me",
        "/dialog/bot/accountLink",
    )
    query = parse_qs(location.query)
    assert query["linkToken"][0] in line_api.link_tokens
    nonce = query["nonce"][0]
    assert len(base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))) * 8 >= 128
    row = session.scalar(select(LineLinkNonce))
    assert row.shopify_customer_id == "7001" and nonce not in row.nonce_hash  # only its hash is kept
    assert response.headers["Cache-Control"] == "private, no-store"
    assert links(session) == []  # nothing is linked before LINE confirms


def test_a_rich_menu_postback_starts_the_link(client, session, shop, line_connected, line_api):
    assert line_post(client, [postback_event(USER, "action=link")]).status_code == 200
    [reply] = line_api.replies
    assert "/apps/tsunagu/line?linkToken=" in reply["messages"][0]["template"]["actions"][0]["uri"]


def test_an_old_typed_token_starts_the_new_flow_and_links_nobody(
    client, session, shop, line_connected, line_api
):
    assert line_post(client, [postback_event(USER, "other")]).status_code == 200
    assert line_api.replies == []
    from emulator.line import text_event

    assert line_post(client, [text_event(USER, "連携 InRva2VuIg.abc.def")]).status_code == 200
    assert len(line_api.replies) == 1 and links(session) == []


def test_an_ok_event_links_once_and_marks_the_member_for_sync(
    client, session, shop, line_connected, line_api
):
    before = member_for_customer(session, shop, "7001").sync_version or 0
    link(client)
    member = member_for_customer(session, shop, "7001")
    assert links(session) == [("7001", USER)]
    assert member.line_linked is True and member.sync_version > before  # the syncer sees the change
    assert session.scalar(select(LineLinkNonce.used_at)) is not None


def test_a_replayed_nonce_changes_nothing(client, session, shop, line_connected, line_api):
    event = link(client)
    linked_at = session.scalar(select(LineLink.linked_at))
    replay = dict(event, source={"type": "user", "userId": OTHER_USER})
    assert line_post(client, [event]).status_code == 200
    assert line_post(client, [replay]).status_code == 200
    assert links(session) == [("7001", USER)]
    assert session.scalar(select(LineLink.linked_at)) == linked_at
    assert len(session.scalars(select(LineMessage)).all()) == 1  # one confirmation


def test_an_expired_nonce_links_nobody(client, session, shop, line_connected, line_api):
    location = link_page(client).headers["Location"]
    session.scalar(select(LineLinkNonce)).expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    assert line_post(client, [account_link_event(USER, nonce_of(location))]).status_code == 200
    assert links(session) == []
    assert member_for_customer(session, shop, "7001").line_linked is False


def test_a_nonce_issued_for_another_shops_channel_is_refused(client, session, shop, line_connected, line_api):
    other = Shop(domain="other-shop.myshopify.com", name="Other", currency="JPY", timezone="Asia/Tokyo")
    session.add(other)
    session.flush()
    connect_line(session, other, channel_secret="other-secret", access_token="other-token")
    location = dialog_url(session, other, "9001", "linktoken123", "ja")
    # Signed with shop A's secret and posted to shop A's webhook: the nonce belongs to shop B.
    assert line_post(client, [account_link_event(USER, nonce_of(location))]).status_code == 200
    assert links(session) == []
    assert session.scalar(select(LineLinkNonce.used_at)) is None  # shop B's nonce is left alone


def test_a_failed_result_links_nobody_and_spends_the_nonce(client, session, shop, line_connected, line_api):
    nonce = nonce_of(link_page(client).headers["Location"])
    assert line_post(client, [account_link_event(USER, nonce, "failed")]).status_code == 200
    assert line_post(client, [account_link_event(USER, nonce, "ok")]).status_code == 200
    assert links(session) == []


def test_a_spent_link_token_makes_lines_dialog_fail(client, session, shop, line_connected, line_api):
    location = link_page(client).headers["Location"]
    line_api.account_link(location)  # the token is spent on LINE's side
    event = line_api.account_link(location)
    assert event["link"]["result"] == "failed" and "replyToken" not in event


def test_a_line_user_linked_to_another_customer_stays_linked_there(
    client, session, shop, line_connected, line_api, caplog
):
    link(client, "7001")
    with caplog.at_level(logging.INFO, logger="app.integrations.line"):
        link(client, "7002")
    assert links(session) == [("7001", USER)]
    assert member_for_customer(session, shop, "7001").line_linked is True
    assert member_for_customer(session, shop, "7002").line_linked is False
    assert "linked to another customer" in caplog.text
    assert USER not in caplog.text  # LINE user ids are personal data: logs carry a hash


def test_an_accountlink_event_with_a_bad_signature_is_refused(
    client, session, shop, line_connected, line_api
):
    nonce = nonce_of(link_page(client).headers["Location"])
    response = line_post(client, [account_link_event(USER, nonce)], secret="wrong")
    assert response.status_code == 401
    assert links(session) == [] and session.scalar(select(LineLinkNonce.used_at)) is None


def test_an_unknown_nonce_is_refused(client, session, shop, line_connected, line_api):
    assert line_post(client, [account_link_event(USER, "x" * 43)]).status_code == 200
    assert line_post(client, [account_link_event(USER, "")]).status_code == 200
    assert links(session) == []


def test_the_link_page_asks_a_logged_out_shopper_to_log_in(client, session, shop, line_connected, line_api):
    query = proxy_query(SHOP, None, extra={"linkToken": "linktoken123", "lang": "en"})
    response = client.get(f"/proxy/line?{query}")
    assert response.status_code == 401 and "Location" not in response.headers
    assert "Log in" in response.get_data(as_text=True)
    assert session.scalar(select(LineLinkNonce)) is None


@pytest.mark.parametrize("token", ["", "a b c d e f g h", "<script>alert(1)</script>", "x" * 200])
def test_a_malformed_link_token_is_refused(client, session, shop, line_connected, token):
    response = client.get(f"/proxy/line?{proxy_query(SHOP, '7001', extra={'linkToken': token})}")
    assert response.status_code == 400
    assert session.scalar(select(LineLinkNonce)) is None


def test_a_forged_proxy_signature_gets_no_nonce(client, session, shop, line_connected):
    query = proxy_query(SHOP, "7001", secret="wrong", extra={"linkToken": "linktoken123"})
    assert client.get(f"/proxy/line?{query}").status_code == 401
    assert session.scalar(select(LineLinkNonce)) is None


def test_redacting_the_customer_deletes_their_nonces(client, session, shop, line_connected, line_api):
    from app.customers.store_privacy import redact_store_customer

    link_page(client)
    redact_store_customer(session, shop, "7001")
    assert session.scalar(select(LineLinkNonce)) is None
