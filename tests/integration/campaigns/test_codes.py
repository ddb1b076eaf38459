"""Reward codes: a granted code award becomes a single-use Shopify code for that customer, once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.campaigns.jobs import issue_reward_codes, run_reward_code_jobs
from app.dispatch import SCHEDULED_JOBS
from app.domain.events import CustomerRef, PurchaseEvent
from app.models.rewards import CampaignAward
from app.models.types import utcnow
from app.points.purchases import apply_purchase
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer
from app.sync.syncer import sync_shop
from emulator.clock import VirtualClock
from emulator.faults import FaultInjector
from emulator.transport import emulator_transport
from tests.integration.campaigns.conftest import award, campaign, customer_member, run_job


def discounts_with(remote, code: str) -> list[dict]:
    return [d for d in remote.discounts.values() if d["code"] == code]


def test_a_free_shipping_code_is_created_for_that_customer_only(session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed, valid_days=14), member)
    before = utcnow()
    assert run_job(session, installed) == {"active": 1, "failed": 0, "retry": 0}
    session.refresh(row)
    assert row.code_status == "active" and row.code.startswith("TSU-") and row.discount_gid
    (created,) = discounts_with(remote, row.code)
    assert created["typename"] == "DiscountCodeFreeShipping"
    assert created["customer_ids"] == [cid] and not created["all_customers"]
    assert created["usage_limit"] == 1 and created["applies_once_per_customer"] is True
    assert created["value"] == {"destination": {"all": True}}
    assert row.code_expires_at - before >= timedelta(days=14) - timedelta(seconds=5)
    assert created["ends_at"] == row.code_expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert run_job(session, installed) == {"active": 0, "failed": 0, "retry": 0}  # nothing claimed twice
    assert len(discounts_with(remote, row.code)) == 1


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("amount", Decimal("500"), {"discountAmount": {"amount": "500.00", "appliesOnEachItem": False}}),
        ("percentage", Decimal("10"), {"percentage": 0.1}),
    ],
)
def test_money_and_percent_codes_take_their_value_off(session, installed, remote, kind, value, expected):
    cid, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed, kind=kind, code_value=value), member)
    run_job(session, installed)
    session.refresh(row)
    (created,) = discounts_with(remote, row.code)
    assert created["typename"] == "DiscountCodeBasic" and created["customer_ids"] == [cid]
    assert created["value"] == expected


def test_a_retried_creation_keeps_the_one_code_shopify_already_made(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    run_job(session, installed)
    session.refresh(row)
    code, gid = row.code, row.discount_gid
    # The answer was lost: the code exists in Shopify but the award still says `creating`.
    row.code_status, row.discount_gid, row.updated_at = "creating", None, utcnow() - timedelta(minutes=5)
    session.commit()
    assert run_job(session, installed)["active"] == 1
    session.refresh(row)
    assert (row.code_status, row.code, row.discount_gid) == ("active", code, gid)
    assert len(discounts_with(remote, code)) == 1


def test_a_creating_code_is_not_sent_again_before_its_answer_could_come(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    row.code_status, row.code = "creating", "TSU-PENDING234"
    row.code_expires_at = utcnow() + timedelta(days=14)
    session.commit()
    assert run_job(session, installed) == {"active": 0, "failed": 0, "retry": 0}
    assert discounts_with(remote, "TSU-PENDING234") == []


def test_a_code_shopify_refuses_is_marked_failed_with_the_reason(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    member.shopify_customer_id = "999999"  # not a customer Shopify knows
    session.commit()
    row = award(session, campaign(session, installed), member)
    assert run_job(session, installed)["failed"] == 1
    session.refresh(row)
    assert row.code_status == "failed" and "does not exist" in row.code_error
    assert run_job(session, installed) == {"active": 0, "failed": 0, "retry": 0}


def test_only_granted_code_awards_are_claimed(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    points = award(
        session, campaign(session, installed, reward="points", bonus_points=100), member, points=100
    )
    held_out = award(session, campaign(session, installed), member)
    held_out.status = "holdout"
    session.commit()
    assert run_job(session, installed) == {"active": 0, "failed": 0, "retry": 0}
    session.refresh(points)
    session.refresh(held_out)
    assert points.code_status is None and held_out.code_status is None and remote.discounts == {}


def test_the_shop_without_write_discounts_keeps_its_awards_waiting(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    installed.granted_scopes = "read_orders,write_customers"
    session.commit()
    run_job(session, installed)
    session.refresh(row)
    assert row.code_status is None and remote.discounts == {}


def sync(session, shop):
    sync_shop(session, shop, AdminClient(shop, session=session), CostPacer.for_plan("standard"), now=utcnow)


def order(session, shop, cid: int, source_id: str, codes: tuple[str, ...] = ()) -> None:
    """An online order applied as the webhook worker would, carrying its discount codes."""
    now = utcnow()
    event = PurchaseEvent(
        source="shopify",
        source_id=source_id,
        shop_domain=shop.domain,
        customer_ref=CustomerRef(shopify_customer_id=str(cid)),
        currency="JPY",
        gross_amount=Decimal("4000"),
        processed_at=now,
        source_updated_at=now,
        source_name="web",
        discount_codes=codes,
    )
    apply_purchase(session, shop, event, now=now)
    session.commit()


def test_the_reward_tag_is_on_while_the_code_is_open_and_off_once_used(session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    run_job(session, installed)
    sync(session, installed)
    assert "tsunagu:reward" in remote.customer_tags(cid)
    order(session, installed, cid, "order-1")  # an order without the code: it stays open
    run_job(session, installed)
    session.refresh(row)
    assert row.code_status == "active"
    order(session, installed, cid, "order-2", codes=(row.code.lower(),))  # codes match whatever the case
    run_job(session, installed)
    session.refresh(row)
    assert row.code_status == "used"
    sync(session, installed)
    assert "tsunagu:reward" not in remote.customer_tags(cid)


def test_an_unused_code_ends_and_its_tag_goes(session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed, valid_days=7), member)
    run_job(session, installed)
    sync(session, installed)
    assert "tsunagu:reward" in remote.customer_tags(cid)
    run_job(session, installed, utcnow() + timedelta(days=8))
    session.refresh(row)
    assert row.code_status == "expired"
    sync(session, installed)
    assert "tsunagu:reward" not in remote.customer_tags(cid)
    assert session.scalar(select(CampaignAward.code_status).where(CampaignAward.id == row.id)) == "expired"


@pytest.fixture
def faults(app, installed, emulator_app):
    """Shopify's answers pass through a fault injector (installed's transport is replaced for the test)."""
    injector = FaultInjector(emulator_app.wsgi_app, sleep=lambda _s: None)
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport(injector)
    return injector


def outage_round(session, shop, now) -> dict[str, int]:
    """A round whose pacer waits on a virtual clock (the retries inside it take no real time)."""
    clock = VirtualClock()
    pacer = CostPacer.for_plan("standard", clock=clock, sleep=clock.sleep)
    return issue_reward_codes(session, shop, now, AdminClient(shop, session=session), pacer)


def test_an_outage_leaves_the_code_creating_and_a_later_round_makes_exactly_one(
    session, installed, remote, faults
):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    faults.add("server_error", status=500)
    now = utcnow()
    assert outage_round(session, installed, now) == {"active": 0, "failed": 0, "retry": 1}
    session.refresh(row)
    code = row.code
    assert row.code_status == "creating" and remote.discounts == {}
    faults.clear()
    assert outage_round(session, installed, now + timedelta(minutes=1))["active"] == 0  # too soon to resend
    assert outage_round(session, installed, now + timedelta(minutes=3))["active"] == 1
    session.refresh(row)
    assert row.code == code and len(discounts_with(remote, code)) == 1


def test_a_code_shopify_never_answers_for_a_day_is_marked_failed(session, installed, remote, faults):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    faults.add("server_error", status=500)
    now = utcnow()
    outage_round(session, installed, now)
    assert outage_round(session, installed, now + timedelta(days=1, minutes=5))["failed"] == 1
    session.refresh(row)
    assert row.code_status == "failed" and "did not answer" in row.code_error


def test_every_worker_round_creates_due_codes_before_flow_announces_them(session, installed, remote):
    _, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    names = [job.__name__ for job in SCHEDULED_JOBS]
    assert names.index("run_reward_code_jobs") < names.index("run_flow_jobs")
    run_reward_code_jobs()
    session.refresh(row)
    assert row.code_status == "active" and discounts_with(remote, row.code)
