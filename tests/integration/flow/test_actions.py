"""POST /flow/actions/<handle>: signed by Flow, applied once per action run, refused as Flow expects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.members.records import create_member
from app.models.integrations import FlowActionRun
from app.models.ledger import LedgerTransaction
from app.shopify.signatures import signature as action_signature
from tests.conftest import TEST_ENV

CUSTOMER = "7001"


@pytest.fixture
def member(session, shop):
    row = create_member(session, shop, CUSTOMER)
    session.commit()
    return row


def post(client, handle, properties, *, run="run-1", domain="test-shop.myshopify.com", secret=None, sig=None):
    body = json.dumps(
        {
            "shop_id": "1",
            "shopify_domain": domain,
            "action_run_id": run,
            "action_definition_id": handle,
            "handle": handle,
            "properties": {"customer_id": CUSTOMER, **properties},
        }
    ).encode()
    signature = (
        sig if sig is not None else action_signature(body, secret or TEST_ENV["SHOPIFY_API_SECRET"]).decode()
    )
    return client.post(
        f"/flow/actions/{handle}",
        data=body,
        headers={"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": signature},
    )


def grants(session) -> int:
    return session.scalar(
        select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "adjust")
    )


def test_a_bad_or_missing_hmac_is_refused_and_changes_nothing(client, session, member):
    assert (
        post(client, "grant-points", {"points": 100, "reason": "x"}, secret="not-the-secret").status_code
        == 401
    )
    assert post(client, "grant-points", {"points": 100, "reason": "x"}, sig="").status_code == 401
    session.refresh(member)
    assert member.points_available == 0 and grants(session) == 0
    assert session.scalar(select(func.count()).select_from(FlowActionRun)) == 0


def test_the_previous_secret_still_verifies_during_rotation(client, session, member):
    response = post(
        client, "grant-points", {"points": 5, "reason": "x"}, secret=TEST_ENV["SHOPIFY_API_SECRET_PREVIOUS"]
    )
    assert response.status_code == 200


def test_grant_applies_once_per_action_run(client, session, member):
    first = post(client, "grant-points", {"points": 250, "reason": "Birthday bonus"})
    assert (first.status_code, first.get_json()) == (200, {"status": "applied"})
    again = post(client, "grant-points", {"points": 250, "reason": "Birthday bonus"})
    assert (again.status_code, again.get_json()) == (200, {"status": "repeated"})
    session.refresh(member)
    assert member.points_available == 250 and grants(session) == 1
    reason = session.scalar(select(LedgerTransaction.reason).where(LedgerTransaction.kind == "adjust"))
    assert "Birthday bonus" in reason and "Shopify Flow" in reason
    assert post(client, "grant-points", {"points": 250, "reason": "again"}, run="run-2").status_code == 200
    session.refresh(member)
    assert member.points_available == 500 and grants(session) == 2


def test_rank_floor_takes_effect_until_the_end_of_the_day(client, session, shop, member):
    until = (datetime.now(UTC) + timedelta(days=30)).date()
    response = post(client, "set-rank-floor", {"rank-handle": "gold", "until": until.isoformat()})
    assert response.status_code == 200
    session.refresh(member)
    assert (member.rank, member.rank_floor) == ("gold", "gold")
    local_end = member.rank_floor_expires_at.astimezone(__import__("zoneinfo").ZoneInfo(shop.timezone))
    assert (local_end.date(), local_end.hour, local_end.minute) == (until + timedelta(days=1), 0, 0)
    version = member.sync_version
    assert post(client, "set-rank-floor", {"rank-handle": "gold", "until": until.isoformat()}).get_json() == {
        "status": "repeated"
    }
    session.refresh(member)
    assert member.sync_version == version


@pytest.mark.parametrize(
    "handle, properties, kwargs, status, code",
    [
        (
            "grant-points",
            {"points": 10, "reason": "x"},
            {"domain": "other.myshopify.com"},
            404,
            "unknown_shop",
        ),
        ("grant-points", {"points": 10, "reason": "x", "customer_id": "999"}, {}, 404, "unknown_customer"),
        ("grant-points", {"points": 0, "reason": "x"}, {}, 422, "bad_points"),
        ("grant-points", {"points": 10, "reason": " "}, {}, 422, "bad_reason"),
        ("set-rank-floor", {"rank-handle": "diamond"}, {}, 422, "unknown_rank"),
        ("set-rank-floor", {"rank-handle": "gold", "until": "2001-01-01"}, {}, 422, "until_in_the_past"),
        ("grant-points", {"points": 10, "reason": "x"}, {"run": ""}, 400, "bad_action_run_id"),
        ("unknown-action", {}, {}, 404, "unknown_action"),
    ],
)
def test_bad_runs_get_a_4xx_and_change_nothing(
    client, session, member, handle, properties, kwargs, status, code
):
    response = post(client, handle, properties, **kwargs)
    assert (response.status_code, response.get_json()) == (status, {"error": code})
    session.refresh(member)
    assert (member.points_available, member.rank_floor) == (0, None)
    assert session.scalar(select(func.count()).select_from(FlowActionRun)) == 0
