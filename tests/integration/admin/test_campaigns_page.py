"""The campaigns page through its routes: create, validation messages, edit, preview, start, stop, results."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.analytics.snapshot import refresh
from app.i18n import catalogue
from app.models import Shop
from app.models.rewards import AwardStatus, Campaign, CampaignAward
from app.models.types import utcnow
from tests.integration.admin.factories import member, purchase


def _today():
    return utcnow().astimezone(ZoneInfo("Asia/Tokyo")).date()


def form(**fields) -> dict[str, str]:
    """A valid 2x multiplier draft from today, for the weekend, online and in Shopify POS."""
    base = {
        "name": "Weekend 2x",
        "kind": "multiplier",
        "starts_at": _today().isoformat(),
        "ends_at": (_today() + timedelta(days=30)).isoformat(),
        "multiplier": "2",
        "reward": "points",
        "holdout_pct": "10",
        "budget": "",
    }
    return {**base, **fields}


def _post_multi(admin, path: str, data: dict, **lists: list[str]):
    """A form post with repeated fields (checkbox groups)."""
    headers = {"Authorization": f"Bearer {admin.mint()}", "Accept": "application/json"}
    body = MultiDict([*{**data, "locale": "en"}.items(), *((k, v) for k, vs in lists.items() for v in vs)])
    return admin.client.post(path, data=body, headers=headers)


def _create(admin, session, **fields) -> Campaign:
    response = admin.post("/campaigns", form(**fields))
    assert response.status_code == 200, response.get_json()
    campaign_id = int(re.search(r"/campaigns/(\d+)", response.get_json()["redirect"]).group(1))
    return session.get(Campaign, campaign_id)


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_the_list_explains_each_kind_and_shows_every_campaign(admin, installed, session, locale):
    messages = catalogue(locale)
    _create(admin, session, name="週末ポイント2倍")
    html = admin.html("/campaigns", locale)
    assert f'<html lang="{locale}">' in html and 'href="/campaigns?' in html  # in the app's navigation
    assert "週末ポイント2倍" in html and messages["campaigns.status.draft"] in html
    assert messages["campaigns.reward_multiplier"].format(m="2") in html
    for kind in ("multiplier", "first_store_visit", "first_online_after_store", "birthday_month", "lapsing"):
        assert escape(messages[f"campaigns.explain.{kind}"]) in html
    assert escape(messages["campaigns.overlap_rule"]) in html
    assert escape(messages["campaigns.holdout_rule_general"]) in html
    assert 'id="new-campaign-form"' in html


def test_a_new_campaign_is_saved_as_a_draft_with_its_conditions(admin, installed, session):
    who = member(session, installed)
    purchase(session, installed, who, "1000", utcnow() - timedelta(days=3), "pos", location_key="shopify:7")
    response = _post_multi(
        admin, "/campaigns", form(), channels=["online", "pos"], weekdays=["5", "6"], locations=["shopify:7"]
    )
    assert response.status_code == 200, response.get_json()
    row = session.scalar(select(Campaign).where(Campaign.shop_id == installed.id))
    assert (row.status, row.kind, str(row.multiplier), row.holdout_pct, row.budget) == (
        "draft",
        "multiplier",
        "2.00",
        10,
        None,
    )
    assert row.conditions == {
        "channels": ["online", "pos"],
        "locations": ["shopify:7"],
        "ranks": [],
        "weekdays": [5, 6],
    }
    tokyo = row.starts_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (tokyo.date(), tokyo.hour) == (_today(), 0)  # whole days in the shop's time zone
    assert row.ends_at.astimezone(ZoneInfo("Asia/Tokyo")).date() == _today() + timedelta(days=31)
    assert response.get_json()["redirect"] == f"/campaigns/{row.id}"


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_invalid_fields_get_a_message_beside_them_in_the_users_language(admin, installed, session, locale):
    messages = catalogue(locale)
    bad = form(name="", multiplier="1", holdout_pct="60", ends_at=(_today() - timedelta(days=1)).isoformat())
    body = admin.post("/campaigns", bad, locale).get_json()
    assert body["ok"] is False and body["message"] == messages["form.fix_errors"]
    assert body["errors"]["name"] == messages["form.required"]
    assert body["errors"]["multiplier"] == messages["form.min"].format(min="1.01")
    assert body["errors"]["holdout_pct"] == messages["form.max"].format(max="50")
    lapsing = admin.post("/campaigns", form(kind="lapsing", bonus_points="0", lapse_days=""), locale)
    assert lapsing.status_code == 422
    assert set(lapsing.get_json()["errors"]) == {"bonus_points", "lapse_days"}
    code = admin.post(
        "/campaigns", form(kind="first_online_after_store", reward="code", code_kind="percentage",
                           code_value="150", code_valid_days="30"), locale,
    ).get_json()  # fmt: skip
    assert code["errors"] == {"code_value": messages["campaigns.error.percentage"]}
    ranks = _post_multi(admin, "/campaigns", form(), ranks=["diamond"]).get_json()
    assert ranks["errors"] == {"ranks": catalogue("en")["campaigns.error.unknown_rank"]}
    assert session.scalar(select(Campaign).where(Campaign.shop_id == installed.id)) is None


def test_a_draft_can_be_edited_then_started_and_its_rules_are_fixed(admin, installed, session):
    row = _create(admin, session)
    changed = admin.post(f"/campaigns/{row.id}", form(name="Weekend 3x", multiplier="3"))
    assert changed.status_code == 200 and changed.get_json()["reload"] is True
    session.refresh(row)
    assert (row.name, str(row.multiplier)) == ("Weekend 3x", "3.00")
    draft = admin.html(f"/campaigns/{row.id}")
    assert 'id="campaign-edit-form"' in draft and 'data-action="start"' in draft

    started = admin.post(f"/campaigns/{row.id}/start", {})
    assert started.status_code == 200, started.get_json()
    session.refresh(row)
    assert row.status == "active" and row.started_at is not None and row.starts_at >= row.started_at
    assert admin.post(f"/campaigns/{row.id}/start", {}).status_code == 409

    ja = catalogue("ja")
    locked = admin.post(f"/campaigns/{row.id}", form(multiplier="5"), "ja")
    assert locked.status_code == 409 and locked.get_json()["message"] == ja["campaigns.error.rules_locked"]
    last = (_today() + timedelta(days=60)).isoformat()
    amended = admin.post(
        f"/campaigns/{row.id}", {"name": "Weekend 3x (extended)", "ends_at": last, "budget": "50000"}
    )
    assert amended.status_code == 200, amended.get_json()
    session.refresh(row)
    assert (row.name, row.budget, str(row.multiplier)) == ("Weekend 3x (extended)", 50000, "3.00")
    past = admin.post(
        f"/campaigns/{row.id}", {"name": "x", "ends_at": (_today() - timedelta(days=2)).isoformat()}
    )
    assert past.get_json()["errors"] == {"ends_at": catalogue("en")["campaigns.error.end_in_past"]}
    running = admin.html(f"/campaigns/{row.id}", "ja")
    assert 'id="campaign-amend-form"' in running and 'id="campaign-edit-form"' not in running
    assert ja["campaigns.holdout_rule"].format(pct=10) in running and ja["campaigns.status.active"] in running


def test_stop_ends_a_running_campaign(admin, installed, session):
    row = _create(admin, session)
    assert admin.post(f"/campaigns/{row.id}/stop", {}).status_code == 409  # a draft is not running
    admin.post(f"/campaigns/{row.id}/start", {})
    stopped = admin.post(f"/campaigns/{row.id}/stop", {})
    assert stopped.status_code == 200
    session.refresh(row)
    assert row.status == "stopped" and row.stopped_at is not None
    en = catalogue("en")
    html = admin.html(f"/campaigns/{row.id}")
    assert en["campaigns.status.stopped"] in html and 'data-action="stop"' not in html
    refused = admin.post(f"/campaigns/{row.id}", {"name": "again"})
    assert refused.status_code == 409 and refused.get_json()["message"] == en["campaigns.error.stopped"]


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_results_show_reach_holdout_and_budget(admin, installed, session, locale):
    row = _create(admin, session, budget="1000")
    row.status, row.started_at, row.granted = "active", utcnow(), 250
    for status, points in ((AwardStatus.GRANTED, 150), (AwardStatus.GRANTED, 100), (AwardStatus.HOLDOUT, 90)):
        session.add(
            CampaignAward(shop_id=installed.id, campaign_id=row.id, member_id=member(session, installed).id,
                          occasion="shopify:1", status=status, points=points, occurred_at=utcnow())
        )  # fmt: skip
    session.flush()
    html = admin.html(f"/campaigns/{row.id}", locale)
    assert re.search(r'data-kpi="reached"><dt>[^<]+</dt><dd>2</dd>', html)
    assert re.search(r'data-kpi="holdout"><dt>[^<]+</dt><dd>1</dd>', html)
    assert re.search(r'data-kpi="points"><dt>[^<]+</dt><dd>250<small>', html)
    assert "25.0%" in html
    listing = admin.html("/campaigns", locale)
    assert 'data-reached="2"' in listing and "2 / 1" in listing and "25.0%" in listing


def test_the_detail_shows_the_comparison_with_the_holdout_once_the_worker_computed_it(
    admin, installed, session
):
    row = _create(admin, session)
    row.status, row.started_at = "active", utcnow() - timedelta(days=20)
    start = utcnow() - timedelta(days=10)
    for n, (status, later) in enumerate(
        [("granted", "5000"), ("granted", "3000"), ("holdout", "1000"), ("holdout", "0")]
    ):
        who = member(session, installed)
        session.add(
            CampaignAward(
                shop_id=installed.id,
                campaign_id=row.id,
                member_id=who.id,
                occasion=f"o{n}",
                status=status,
                points=100,
                occurred_at=start,
            )
        )
        if later != "0":
            purchase(session, installed, who, later, start + timedelta(days=2), "online")
    session.flush()  # fmt: skip
    assert 'data-effect="none"' in admin.html(f"/campaigns/{row.id}")
    refresh(session, installed)
    html = admin.html(f"/campaigns/{row.id}", "en")
    assert 'data-effect="shown"' in html
    assert "¥4,000 / ¥500" in html  # mean sales per member, rewarded / holdout


def test_preview_estimates_reach_without_giving_anything(admin, installed, session):
    who = member(session, installed)
    purchase(session, installed, who, "10000", utcnow() - timedelta(days=2), "online")
    row = _create(admin, session, holdout_pct="0")
    response = admin.post(f"/campaigns/{row.id}/preview", {})
    body = response.get_json()
    assert response.status_code == 200 and body["members"] == 1 and body["points"] > 0
    assert "data-preview" in body["html"] and who.member_number in body["html"]
    assert session.scalar(select(CampaignAward).where(CampaignAward.campaign_id == row.id)) is None
    session.refresh(row)
    assert (row.status, row.granted) == ("draft", 0)


def test_another_shops_campaign_is_not_found(admin, installed, session):
    other = Shop(domain="other-shop.myshopify.com", name="Other", currency="JPY", timezone="Asia/Tokyo")
    session.add(other)
    session.flush()
    theirs = Campaign(
        shop_id=other.id, name="Theirs", kind="birthday_month", bonus_points=100, starts_at=utcnow()
    )
    session.add(theirs)
    session.flush()
    assert admin.page(f"/campaigns/{theirs.id}").status_code == 404
    for action in ("", "/start", "/stop", "/preview"):
        assert admin.post(f"/campaigns/{theirs.id}{action}", form()).status_code == 404
    assert "Theirs" not in admin.html("/campaigns")
    session.refresh(theirs)
    assert (theirs.status, theirs.name) == ("draft", "Theirs")


@pytest.mark.parametrize(
    "fields, lists, field",
    [
        ({"multiplier": "NaN"}, {}, "multiplier"),
        ({"starts_at": "2026-02-30"}, {}, "starts_at"),
        ({"budget": "9" * 40}, {}, "budget"),
        ({"kind": "lapsing", "bonus_points": "100", "lapse_days": "1e309"}, {}, "lapse_days"),
        ({"kind": "first_store_visit", "reward": "code", "code_kind": "amount", "code_value": "1e309",
          "code_valid_days": "7"}, {}, "code_value"),
        ({}, {"weekdays": ["²"]}, "weekdays"),
        ({}, {"weekdays": ["9" * 5000]}, "weekdays"),
        ({}, {"channels": ["x" * 300]}, "channels"),
    ],
)  # fmt: skip
def test_odd_input_is_a_field_error_never_a_server_error(admin, installed, fields, lists, field):
    response = _post_multi(admin, "/campaigns", form(**fields), **lists)
    assert response.status_code == 422 and field in response.get_json()["errors"]
