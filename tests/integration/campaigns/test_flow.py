"""Flow: `campaign-reward-issued` once per granted award, and the `issue-reward-code` action once per run."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.flow.jobs import flow_tick
from app.models.integrations import FlowActionRun, FlowTrigger
from app.models.rewards import Campaign, CampaignAward
from app.models.shop import Shop
from app.models.types import utcnow
from app.points.engine import rebuild_members
from app.shopify.signatures import signature
from tests.conftest import TEST_ENV
from tests.integration.campaigns.conftest import award, campaign, customer_member, run_job


def tick(shop, remote) -> list[dict]:
    """One Flow pass; the triggers the emulated Flow accepted (it checks each against the extension)."""
    before = len(remote.flow_triggers)
    flow_tick(shop, utcnow(), 0)
    return remote.flow_triggers[before:]


def test_a_code_reward_is_announced_once_with_its_code(session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed, name="Welcome back"), member)
    assert tick(installed, remote) == []  # the code does not exist yet: nothing to announce
    run_job(session, installed)
    session.refresh(row)
    assert tick(installed, remote) == [
        {
            "handle": "campaign-reward-issued",
            "payload": {"customer_id": cid, "campaign": "Welcome back", "points": 0, "code": row.code},
        }
    ]
    assert tick(installed, remote) == []
    sent = session.scalars(select(FlowTrigger).where(FlowTrigger.handle == "campaign-reward-issued")).all()
    assert [(t.status, t.dedupe_key) for t in sent] == [("sent", f"award:{row.id}")]


def test_a_points_reward_is_announced_with_an_empty_code(session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    offer = campaign(session, installed, reward="points", name="Double points", bonus_points=300)
    award(session, offer, member, "shopify:1001", points=300)
    assert tick(installed, remote) == [
        {
            "handle": "campaign-reward-issued",
            "payload": {"customer_id": cid, "campaign": "Double points", "points": 300, "code": ""},
        }
    ]


def test_held_out_awards_are_not_announced(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed, reward="points"), member, points=100)
    row.status = "holdout"
    session.commit()
    assert tick(installed, remote) == []


def post(client, properties, *, run="run-1", secret=None, domain="test-shop.myshopify.com"):
    body = json.dumps(
        {
            "shop_id": "1",
            "shopify_domain": domain,
            "action_run_id": run,
            "action_definition_id": "issue-reward-code",
            "handle": "issue-reward-code",
            "properties": properties,
        }
    ).encode()
    sig = signature(body, secret or TEST_ENV["SHOPIFY_API_SECRET"]).decode()
    return client.post(
        "/flow/actions/issue-reward-code",
        data=body,
        headers={"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sig},
    )


def awards(session) -> list[CampaignAward]:
    return list(session.scalars(select(CampaignAward).order_by(CampaignAward.id)))


def test_the_action_issues_one_code_per_run(client, session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    offer = campaign(session, installed, budget=5)
    properties = {"customer_id": str(cid), "campaign-id": offer.id}
    first = post(client, properties)
    assert (first.status_code, first.get_json()) == (200, {"status": "applied"})
    again = post(client, properties)
    assert (again.status_code, again.get_json()) == (200, {"status": "repeated"})
    (row,) = awards(session)
    assert (row.member_id, row.occasion, row.status, row.points) == (member.id, "flow:run-1", "granted", 0)
    assert post(client, properties, run="run-2").status_code == 200
    assert len(awards(session)) == 2
    session.refresh(offer)
    assert offer.granted == 2
    assert run_job(session, installed)["active"] == 2  # the worker creates both codes
    assert len(remote.discounts) == 2
    # Replaying the member keeps what a Flow action gave: no campaign rule produces it, none withdraws it.
    rebuild_members(session, installed, [member.id], utcnow())
    assert {a.status for a in awards(session)} == {"granted"}


def test_a_bad_hmac_is_refused_and_issues_nothing(client, session, installed, remote):
    cid, _ = customer_member(session, installed, remote)
    offer = campaign(session, installed)
    response = post(client, {"customer_id": str(cid), "campaign-id": offer.id}, secret="not-the-secret")
    assert response.status_code == 401
    assert awards(session) == [] and session.scalar(select(func.count()).select_from(FlowActionRun)) == 0


def test_a_campaign_of_another_shop_is_refused(client, session, installed, remote):
    cid, _ = customer_member(session, installed, remote)
    other = Shop(domain="other-shop.myshopify.com", status="installed", granted_scopes="write_discounts")
    session.add(other)
    session.commit()
    theirs = campaign(session, other)
    response = post(client, {"customer_id": str(cid), "campaign-id": theirs.id})
    assert (response.status_code, response.get_json()) == (404, {"error": "unknown_campaign"})
    assert awards(session) == [] and session.scalar(select(func.count()).select_from(FlowActionRun)) == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"reward": "points"}, "not_a_code_reward"),
        ({"status": "stopped"}, "campaign_not_active"),
        ({"budget": 0}, "over_budget"),
    ],
)
def test_a_campaign_that_cannot_give_a_code_is_refused(client, session, installed, remote, fields, error):
    cid, _ = customer_member(session, installed, remote)
    offer = campaign(session, installed, **fields)
    response = post(client, {"customer_id": str(cid), "campaign-id": offer.id})
    assert (response.status_code, response.get_json()) == (422, {"error": error})
    assert awards(session) == []
    assert session.scalar(select(Campaign.granted).where(Campaign.id == offer.id)) == 0


@pytest.mark.parametrize("value", ["abc", -1, None, True])
def test_a_bad_campaign_id_is_refused(client, session, installed, remote, value):
    cid, _ = customer_member(session, installed, remote)
    response = post(client, {"customer_id": str(cid), "campaign-id": value})
    assert (response.status_code, response.get_json()) == (422, {"error": "bad_campaign_id"})
