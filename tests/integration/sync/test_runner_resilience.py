"""One failing syncer task for one shop stops nothing else: it is logged, backs off, and shows on the page.

The failure here is an answer from Shopify the code did not expect: discountCodeBasicCreate answering
without the discount it created (a transport between the app and the emulator rewrites that one answer).
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from flask import current_app
from sqlalchemy import select

from app.dashboard.health import sync_health
from app.jobs import task_backoff
from app.models.member import Member
from app.models.rewards import Redemption
from app.points import redemption
from app.points.upkeep import refresh_member
from app.shopify.http import shopify_http_client
from app.sync.runner import run_pass


class NoDiscountInAnswer(httpx.BaseTransport):
    """The emulator, except that discountCodeBasicCreate answers `codeDiscountNode: null` while `broken`."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.broken, self.rewritten = inner, True, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not (self.broken and b"discountCodeBasicCreate" in request.read()):
            return response
        self.rewritten += 1
        body = json.loads(response.read())
        body["data"] = {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": []}}
        return httpx.Response(200, json=body, headers={"content-type": "application/json"})


def _redemption_left_creating(world) -> tuple[int, int]:
    """A customer with points and a reward code not yet created in Shopify (as after a crash)."""
    cid = world.customer()
    world.buy(cid, "50000")
    world.clock.sleep(timedelta(days=15).total_seconds())
    member = world.session.scalars(select(Member).where(Member.shopify_customer_id == str(cid))).one()
    refresh_member(world.session, world.shop, member.id, world.clock.utc())
    world.session.commit()
    row = redemption._take_points(
        world.session, world.shop, member.id, 100, "crashed", world.clock.utc(), timedelta(days=30), "staff"
    )
    return cid, row.id


def test_an_unexpected_answer_fails_that_task_only_and_backs_off(world, app, caplog):
    cid, redemption_id = _redemption_left_creating(world)
    transport = NoDiscountInAnswer(app.config["SHOPIFY_TRANSPORT"])
    app.config["SHOPIFY_TRANSPORT"] = transport
    pacer = world.pacer()

    def one_pass():
        with shopify_http_client(current_app.config["SETTINGS"]) as http:
            return run_pass(
                world.session, world.shop, world.client(), pacer, http, holder="t", now=world.clock.utc
            )

    first = one_pass()
    assert first.failed == {"redemptions": "TypeError"} and transport.rewritten == 1
    assert first.sync is not None and first.sync.confirmed >= 1  # the metafields went out all the same
    assert world.remote.customer_metafields(cid) != {}
    logged = [r.getMessage() for r in caplog.records if "sync task redemptions" in r.getMessage()]
    assert logged and f"shop {world.shop.id}" in logged[0] and "TypeError" in logged[0]

    failure = task_backoff.failures(world.session, world.shop.id)["redemptions"]
    assert (failure.count, failure.error) == (1, "TypeError") and failure.retry_at > world.clock.utc()
    health = sync_health(world.session, world.shop, now=world.clock.utc())
    assert [f.task for f in health.task_failures] == ["redemptions"]
    assert health.status(world.clock.utc()) == "warning"

    second = one_pass()  # within the backoff: the task waits, Shopify is not asked again
    assert second.failed == {"redemptions": "TypeError (waiting)"} and transport.rewritten == 1

    transport.broken = False
    world.clock.sleep(task_backoff.delay(1).total_seconds() + 1)
    third = one_pass()
    assert third.failed == {} and third.error is None
    assert task_backoff.failures(world.session, world.shop.id) == {}
    assert world.session.get(Redemption, redemption_id).status == "active"


def test_failures_in_a_row_wait_longer_each_time():
    assert [task_backoff.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert task_backoff.delay(30) == task_backoff.MAX_DELAY
