"""LINE: linking by LINE's account link, thank-yous at the shop's evening hour once per visit day, opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlparse

import pytest
from sqlalchemy import select

from app.domain.events import CustomerRef, PurchaseEvent
from app.integrations.line.schedule import schedule_from_purchases
from app.integrations.line.sender import MAX_ATTEMPTS, send_due
from app.members.identity import member_for_customer
from app.models.integrations import LineLink, LineMessage
from app.models.purchase import Purchase
from app.points.purchases import apply_purchase
from emulator.line import follow_event, signed_webhook, text_event
from tests.integration.store.conftest import LINE_SECRET, proxy_query

SHOP = "test-shop.myshopify.com"
JST_14 = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)  # 14:00 in Tokyo
JST_20 = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)  # 20:00 in Tokyo
USER = "U4af4980629a1b2c3d4e5f60718293a4b"


def line_post(client, events, secret=LINE_SECRET):
    headers, body = signed_webhook(secret, events)
    return client.post(f"/integrations/line/webhooks/{SHOP}", data=body, headers=headers)


def link_page(client, customer_id="7001", user=USER, word="連携"):
    """Send 「連携」 in LINE, tap the replied button, logged in on the storefront: the page's response."""
    line_api = client.application.config["LINE_TRANSPORT"].app
    assert line_post(client, [text_event(user, word)]).status_code == 200
    page = urlparse(line_api.replies[-1]["messages"][0]["template"]["actions"][0]["uri"])
    assert (page.netloc, page.path) == (SHOP, "/apps/tsunagu/line")
    return client.get(f"/proxy/line?{proxy_query(SHOP, customer_id, extra=dict(parse_qsl(page.query)))}")


def link(client, customer_id="7001", user=USER, word="連携"):
    """What a shopper does: the link page, then LINE's dialog, whose accountLink event reaches the app."""
    response = link_page(client, customer_id, user, word)
    assert response.status_code == 302
    event = client.application.config["LINE_TRANSPORT"].app.account_link(response.headers["Location"])
    assert line_post(client, [event]).status_code == 200
    return event


def store_sale(session, shop, at, order_id, customer_id="7001", location="Ginza"):
    apply_purchase(
        session,
        shop,
        PurchaseEvent(
            source="shopify",
            source_id=order_id,
            shop_domain=SHOP,
            customer_ref=CustomerRef(shopify_customer_id=customer_id),
            currency="JPY",
            gross_amount=Decimal("5000"),
            processed_at=at,
            source_updated_at=at,
            source_name="pos",
            location_id="88",
            location_name=location,
        ),
    )


def thank_yous(session):
    return session.scalars(
        select(LineMessage).where(LineMessage.kind == "thank_you").order_by(LineMessage.id)
    ).all()


def test_linking_from_the_member_card(client, session, shop, line_connected, line_api):
    link(client)
    row = session.scalar(select(LineLink))
    assert (row.shopify_customer_id, row.line_user_id, row.opted_out_at) == ("7001", USER, None)
    assert member_for_customer(session, shop, "7001").line_linked is True
    assert send_due(session)["sent"] == 1  # the confirmation goes out at once
    assert "連携が完了しました" in line_api.texts_to(USER)[0]


def test_a_webhook_with_a_bad_signature_is_refused(client, session, shop, line_connected):
    response = line_post(client, [text_event(USER, "連携")], secret="wrong")
    assert response.status_code == 401
    assert session.scalar(select(LineLink)) is None


def test_a_store_purchase_at_14_schedules_one_message_for_20_once_per_day(
    client, session, shop, line_connected, line_api
):
    link(client)
    send_due(session)  # the link confirmation
    store_sale(session, shop, JST_14, "5001")
    assert schedule_from_purchases(session, shop, JST_14 + timedelta(minutes=5)) == 1
    store_sale(session, shop, JST_14 + timedelta(hours=2), "5002", location="Shibuya")
    assert schedule_from_purchases(session, shop, JST_14 + timedelta(hours=2, minutes=5)) == 0

    [message] = thank_yous(session)
    assert message.scheduled_for == JST_20
    assert send_due(session, JST_20 - timedelta(minutes=1)) == {}
    assert send_due(session, JST_20)["sent"] == 1
    assert send_due(session, JST_20 + timedelta(hours=1)) == {}
    texts = line_api.texts_to(USER)
    assert len(texts) == 2 and "Ginza" in texts[1]


def test_a_store_named_after_the_visit_was_queued_is_named_in_the_thank_you(
    client, session, shop, line_connected, line_api
):
    link(client)
    send_due(session)  # the link confirmation
    store_sale(session, shop, JST_14, "5101", location=None)  # a webhook names the location id only
    assert schedule_from_purchases(session, shop, JST_14 + timedelta(minutes=5)) == 1
    [message] = thank_yous(session)
    assert message.store_name is None
    purchase = session.scalar(select(Purchase).where(Purchase.source_id == "5101"))
    purchase.location_name = "Ginza"  # what the syncer does once it has read the location's name
    session.flush()
    assert send_due(session, JST_20)["sent"] == 1
    text = line_api.texts_to(USER)[-1]
    assert "Ginza" in text and "当店" not in text


def test_an_online_purchase_sends_nothing(client, session, shop, line_connected, line_api):
    link(client)
    apply_purchase(
        session,
        shop,
        PurchaseEvent(
            source="shopify",
            source_id="6001",
            shop_domain=SHOP,
            customer_ref=CustomerRef(shopify_customer_id="7001"),
            currency="JPY",
            gross_amount=Decimal("5000"),
            processed_at=JST_14,
            source_updated_at=JST_14,
            source_name="web",
        ),
    )
    assert schedule_from_purchases(session, shop, JST_14) == 0


def test_a_visit_after_the_send_time_is_thanked_the_next_evening(client, session, shop, line_connected):
    link(client)
    store_sale(session, shop, JST_20 + timedelta(hours=1), "5001")
    schedule_from_purchases(session, shop, JST_20 + timedelta(hours=1))
    assert thank_yous(session)[0].scheduled_for == JST_20 + timedelta(days=1)


def test_the_send_time_is_configurable(client, session, shop, line_connected):
    line_connected.send_at_local = "18:30"
    link(client)
    store_sale(session, shop, JST_14, "5001")
    schedule_from_purchases(session, shop, JST_14)
    assert thank_yous(session)[0].scheduled_for == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("how", ["message", "block"])
def test_opting_out_stops_the_thank_you(client, session, shop, line_connected, line_api, how):
    link(client)
    send_due(session)  # the link confirmation
    store_sale(session, shop, JST_14, "5001")
    schedule_from_purchases(session, shop, JST_14)
    event = text_event(USER, "停止") if how == "message" else follow_event(USER, "unfollow")
    assert line_post(client, [event]).status_code == 200

    assert send_due(session, JST_20) == {"skipped": 1}
    assert thank_yous(session)[0].status == "skipped"
    assert len(line_api.texts_to(USER)) == 1  # only the link confirmation
    store_sale(session, shop, JST_14 + timedelta(days=1), "5002")
    assert schedule_from_purchases(session, shop, JST_14 + timedelta(days=1)) == 0


def test_opting_back_in_resumes(client, session, shop, line_connected, line_api):
    link(client)
    line_post(client, [follow_event(USER, "unfollow")])
    line_post(client, [follow_event(USER, "follow")])
    store_sale(session, shop, JST_14, "5001")
    assert schedule_from_purchases(session, shop, JST_14) == 1


def test_failures_are_retried_visibly_and_never_sent_twice(client, session, shop, line_connected, line_api):
    link(client)
    send_due(session)  # the link confirmation
    store_sale(session, shop, JST_14, "5001")
    schedule_from_purchases(session, shop, JST_14)
    line_api.fail_next = [503, 429]
    line_api.lose_next_responses = 1  # third try: LINE accepts but the answer is lost

    assert send_due(session, JST_20) == {"retry": 1}
    [message] = thank_yous(session)
    assert (message.status, message.attempts, message.last_error) == (
        "scheduled",
        1,
        "LINE push answered 503",
    )
    later = JST_20
    for _ in range(3):
        later = message.next_attempt_at
        send_due(session, later)
    assert (message.status, message.sent_at) == ("sent", later)
    assert line_api.texts_to(USER).count(line_api.texts_to(USER)[-1]) == 1  # the retry key kept it single


def test_a_permanent_failure_is_visible(client, session, shop, line_connected, line_api):
    link(client)
    line_api.blocked_users.add(USER)
    assert send_due(session)["failed"] == 1  # the link confirmation
    store_sale(session, shop, JST_14, "5001")
    schedule_from_purchases(session, shop, JST_14)
    assert send_due(session, JST_20)["failed"] == 1  # the thank-you
    assert {m.status for m in session.scalars(select(LineMessage))} == {"failed"}


def test_retries_give_up_after_the_limit(client, session, shop, line_connected, line_api):
    link(client)
    line_api.fail_next = [500] * (MAX_ATTEMPTS + 1)
    [message] = session.scalars(select(LineMessage)).all()
    at = message.next_attempt_at
    for _ in range(MAX_ATTEMPTS):
        send_due(session, at)
        at = message.next_attempt_at if message.status == "scheduled" else at
    assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)


def test_an_english_link_message_sets_english(client, session, shop, line_connected, line_api):
    link(client, word="LINK")
    assert session.scalar(select(LineLink.language)) == "en"
    send_due(session)
    assert line_api.texts_to(USER) == [
        "Your LINE account is now linked to your member card. Send STOP to stop messages."
    ]


def test_a_customer_relinking_moves_to_their_new_line_account(client, session, shop, line_connected):
    link(client, "7001", USER)
    other = "U" + "e" * 32
    link(client, "7001", other)
    assert session.scalars(select(LineLink.line_user_id)).all() == [other]
    assert member_for_customer(session, shop, "7001").line_linked is True


def test_without_a_line_account_the_card_offers_no_link(client, session, shop):
    assert "line-link" not in client.get(f"/proxy/card?{proxy_query(SHOP, '7001')}").get_data(as_text=True)
    assert client.get(f"/proxy/line?{proxy_query(SHOP, '7001')}").status_code == 404


def test_the_line_link_needs_a_logged_in_customer(client, session, shop, line_connected):
    response = client.get(f"/proxy/line?{proxy_query(SHOP, None)}")
    assert response.status_code == 401 and "Location" not in response.headers


def test_the_consoles_verify_request_is_answered(client, session, shop, line_connected):
    assert line_post(client, []).status_code == 200  # "Verify" in the LINE console sends no events


def test_an_unknown_shop_is_refused(client, session, shop, line_connected):
    headers, body = signed_webhook(LINE_SECRET, [])
    assert (
        client.post("/integrations/line/webhooks/other.myshopify.com", data=body, headers=headers).status_code
        == 401
    )
