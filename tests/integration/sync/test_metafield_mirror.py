"""The opt-in `tsunagu` mirror: definitions, the app's values, re-asserted, removed when switched off."""

from __future__ import annotations

from datetime import timedelta

from app.members import mirror
from app.members.projection import MIRROR_FIELDS
from app.sync.syncer import sync_shop

OTHER_APP = "app--999001"  # any other installed app with read_customers


def sync(world):
    return sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)


def switch_on(world):
    mirror.switch(world.session, world.shop, True)
    assert mirror.ensure_definitions(world.session, world.shop, world.client(), world.pacer())


def members(world) -> list[int]:
    a, b = world.customer(), world.customer()
    world.buy(a, "120000", pos=True)
    world.buy(b, "4000")
    world.clock.sleep(timedelta(days=40).total_seconds())  # past the return window: points available
    world.buy(b, "2000", pos=True)
    return [a, b]


def test_off_by_default_nothing_is_written_outside_the_app_namespace(world):
    customers = members(world)
    sync(world)
    for cid in customers:
        assert world.remote.customer_metafields(cid, "tsunagu") == {}
        assert world.remote.metafields_readable_by(cid, OTHER_APP) == {}  # ours are merchant_read
        assert world.remote.customer_metafields(cid)  # the app's own are written


def test_switched_on_the_merchant_namespace_holds_the_apps_values_for_any_app_to_read(world):
    customers = members(world)
    sync(world)
    switch_on(world)
    defined = {key for (ns, key) in world.remote.created_definitions if ns == "tsunagu"}
    assert defined == set(mirror.DEFINITIONS)
    report = sync(world)
    assert report.metafields_written > 0
    balances = []
    for cid in customers:
        own = {k: v["value"] for k, v in world.remote.customer_metafields(cid).items()}
        shared = {k: v["value"] for k, v in world.remote.customer_metafields(cid, "tsunagu").items()}
        assert {k: shared.get(k) for k in MIRROR_FIELDS} == {k: own.get(k) for k in MIRROR_FIELDS}
        balances.append(int(own["points_balance"]))
        if balances[-1] > 0:
            assert shared["points_expiring"] == own["points_balance"]  # one purchase, one expiry date
        readable = world.remote.metafields_readable_by(cid, OTHER_APP)
        assert readable == {f"tsunagu.{k}": v for k, v in shared.items()}
    assert any(balances)


def test_a_value_another_app_overwrote_is_reasserted_on_the_next_sync(world):
    a, _ = members(world)
    switch_on(world)
    sync(world)
    owner = f"gid://shopify/Customer/{a}"
    world.remote.write_metafield(owner, "tsunagu", "rank", "single_line_text_field", "platinum")
    world.buy(a, "100", pos=True)  # the member changes: the next sync writes it again
    sync(world)
    own = world.remote.customer_metafields(a)["rank"]["value"]
    assert world.remote.customer_metafields(a, "tsunagu")["rank"]["value"] == own != "platinum"


def test_switched_off_the_mirrored_metafields_are_removed(world):
    customers = members(world)
    switch_on(world)
    sync(world)
    assert all(world.remote.customer_metafields(cid, "tsunagu") for cid in customers)
    mirror.switch(world.session, world.shop, False)
    report = sync(world)
    assert report.metafields_deleted >= len(customers) * len(MIRROR_FIELDS)
    for cid in customers:
        assert world.remote.customer_metafields(cid, "tsunagu") == {}
        assert world.remote.customer_metafields(cid)  # the app's own stay


def test_values_wait_until_the_definitions_exist(world):
    customers = members(world)
    mirror.switch(world.session, world.shop, True)  # chosen, but no syncer pass has made the definitions
    sync(world)
    assert all(world.remote.customer_metafields(cid, "tsunagu") == {} for cid in customers)


def test_a_syncer_pass_makes_the_definitions_then_writes_the_values(world):
    from flask import current_app

    from app.shopify.http import shopify_http_client
    from app.sync.runner import run_pass

    customers = members(world)
    mirror.switch(world.session, world.shop, True)
    with shopify_http_client(current_app.config["SETTINGS"]) as http:
        result = run_pass(
            world.session, world.shop, world.client(), world.pacer(), http, holder="t", now=world.clock.utc
        )
    assert result.error is None and "mirror" not in result.failed
    assert {key for (ns, key) in world.remote.created_definitions if ns == "tsunagu"} == set(
        mirror.DEFINITIONS
    )
    assert all(world.remote.customer_metafields(cid, "tsunagu") for cid in customers)
