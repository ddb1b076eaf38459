"""Dashboard actions that reach Shopify (the emulator): reward codes and segments."""

from __future__ import annotations

from sqlalchemy import select

from app.i18n import catalogue
from app.models.rewards import Redemption
from app.models.sync_state import ShopSegment
from tests.integration.admin.factories import member


def test_issue_a_reward_code_holds_the_points(admin, installed, session, emulator_state):
    customer = emulator_state.shop("test-shop.myshopify.com").add_customer(
        first_name="花子", last_name="佐藤"
    )
    who = member(session, installed, shopify_customer_id=str(customer["id"]))
    from app.models.types import utcnow
    from app.points import spending

    spending.adjust(session, who, 800, reason="grant", source_id="g1", now=utcnow())
    session.commit()
    too_many = admin.post(f"/members/{who.id}/reward", {"points": "900", "key": "r1"}, "ja")
    assert too_many.status_code == 422
    ok = admin.post(f"/members/{who.id}/reward", {"points": "500", "key": "r1"})
    assert ok.status_code == 200, ok.get_json()
    code = session.scalar(select(Redemption).where(Redemption.member_id == who.id))
    assert code.status == "active" and code.code in ok.get_json()["message"]
    session.refresh(who)
    assert who.points_available == 300 and who.points_held == 500


def test_store_only_members_cannot_get_a_code(admin, installed, session):
    who = member(session, installed, shopify_customer_id=None, points_available=100)
    response = admin.post(f"/members/{who.id}/reward", {"points": "50", "key": "r2"}, "en")
    assert response.status_code == 409
    assert response.get_json()["message"] == catalogue("en")["member.reward_needs_customer"]


def test_segment_from_a_template_is_created_in_shopify(admin, installed, session, emulator_state):
    response = admin.post("/segments/template", {"handle": "omni"})
    assert response.status_code == 200, response.get_json()
    row = session.scalar(select(ShopSegment).where(ShopSegment.shop_id == installed.id))
    assert row.handle == "omni" and row.status == "created" and "channel_mix" in row.query
    html = admin.html("/segments", "ja")
    assert 'data-segment="omni"' in html and row.query.replace("'", "&#39;") in html
    assert 'data-template="omni"' not in html  # made: no longer offered as a template
    # Once the worker's summary covers the segment, the page reads its count from there (large shops).
    from app.dashboard.jobs import refresh_segment_counts
    from app.dashboard.summary import refresh_summary

    refresh_summary(session, installed)
    assert refresh_segment_counts(session) == 1
    assert refresh_segment_counts(session) == 0  # counted within the hour, nothing new
    assert refresh_summary(session, installed).data["segments"] == {"omni": 0}  # kept by a summary refresh
    assert "App counts as of" in admin.html("/segments", "en")
    unknown = admin.post("/segments/template", {"handle": "everyone"}, "ja")
    assert (
        unknown.status_code == 422
        and unknown.get_json()["errors"]["handle"] == catalogue("ja")["form.choice"]
    )


def test_custom_segment_conditions_are_validated(admin, installed):
    ja = catalogue("ja")
    response = admin.post(
        "/segments/custom", {"name": "", "key1": "rank", "op1": ">", "value1": "gold"}, "ja"
    )
    errors = response.get_json()["errors"]
    assert response.status_code == 422
    assert errors["name"] == ja["form.required"] and errors["op1"] == ja["segments.op_for_text"]
    ok = admin.post(
        "/segments/custom",
        {"name": "Big spenders", "key1": "spend_12m", "op1": ">=", "value1": "100000", "key2": "line_linked",
         "op2": "=", "value2": "true"},
    )  # fmt: skip
    assert ok.status_code == 200, ok.get_json()


def test_merging_two_shopify_customers_asks_shopify(admin, installed, session, emulator_state):
    remote = emulator_state.shop("test-shop.myshopify.com")
    keep_c, fold_c = remote.add_customer(email="a@example.jp"), remote.add_customer(email="A@example.jp")
    keep = member(session, installed, shopify_customer_id=str(keep_c["id"]), email_hash="same-person")
    fold = member(session, installed, shopify_customer_id=str(fold_c["id"]), email_hash="same-person")
    session.commit()
    response = admin.post(f"/members/{keep.id}/merge", {"other_id": str(fold.id)}, "en")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["message"] == catalogue("en")["member.merge_requested"]
    assert fold_c["id"] not in remote.customers and keep_c["id"] in remote.customers
    session.refresh(fold)
    assert fold.status == "active"  # our side moves when Shopify's customers/merge webhook arrives


def test_a_merge_shopify_refuses_is_reported(admin, installed, session, emulator_state):
    remote = emulator_state.shop("test-shop.myshopify.com")
    keep_c = remote.add_customer(email="b@example.jp")
    keep = member(session, installed, shopify_customer_id=str(keep_c["id"]), email_hash="twin")
    gone = member(session, installed, shopify_customer_id="987654321", email_hash="twin")
    session.commit()
    response = admin.post(f"/members/{keep.id}/merge", {"other_id": str(gone.id)}, "ja")
    assert response.status_code == 502
    assert response.get_json()["message"] == catalogue("ja")["member.merge_in_shopify"]


def test_the_metafield_mirror_is_switched_on_and_off_from_the_segments_page(admin, installed, session):
    from app.members import mirror

    page = admin.html("/segments", "ja")
    assert catalogue("ja")["segments.mirror_warning"] in page and "tsunagu.points_expiring" in page
    assert not mirror.is_on(installed)
    on = admin.post("/segments/mirror", {"mirror": "on"}, "en")
    assert on.status_code == 200 and on.get_json()["message"] == catalogue("en")["segments.mirror_saved_on"]
    session.refresh(installed)
    assert mirror.is_on(installed)
    assert catalogue("en")["segments.mirror_state_on"] in admin.html("/segments", "en")
    off = admin.post("/segments/mirror", {"mirror": "off"}, "ja")
    assert off.status_code == 200
    session.refresh(installed)
    assert not mirror.is_on(installed)
    bad = admin.post("/segments/mirror", {"mirror": "maybe"}, "en")
    assert bad.status_code == 422
