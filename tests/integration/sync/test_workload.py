"""Acceptance: after random orders, refunds and merges Shopify holds the DB projection, within budget."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.customers.events import apply_merge
from app.domain.events import CustomerMergeEvent
from app.sync.syncer import sync_shop
from tests.integration.sync.conftest import assert_shopify_matches_db, metafields_set_sizes


def sync(world, pacer=None):
    return sync_shop(world.session, world.shop, world.client(), pacer or world.pacer(), now=world.clock.utc)


def one_round(world, pacer=None):
    """A single syncer round, as the first of a pass."""
    pacer = pacer or world.pacer()
    return sync_shop(world.session, world.shop, world.client(), pacer, now=world.clock.utc, max_rounds=1)


def first_sales(world, count: int) -> list[int]:
    """`count` new customers, each with one 2,500 JPY order applied (one commit)."""
    customers = [world.customer() for _ in range(count)]
    for cid in customers:
        world.buy(cid, "2500", commit=False)
    world.session.commit()
    return customers


def test_random_workload_of_orders_refunds_and_merges(world):
    rng = random.Random(6)
    customers = [world.customer() for _ in range(60)]
    orders: list[tuple[str, int]] = []
    pacer = world.pacer()
    for step in range(400):
        roll = rng.random()
        if roll < 0.75 or not orders:
            cid = rng.choice(customers)
            amount = str(rng.choice([800, 3000, 12000, 25000, 48000]))
            orders.append((world.buy(cid, amount, pos=rng.random() < 0.4), int(amount)))
        elif roll < 0.93:
            oid, amount = rng.choice(orders)
            world.refund(oid, str(rng.randint(1, amount // 2)))
        elif len(customers) > 10:
            survivor, merged = rng.sample(customers, 2)
            apply_merge(
                world.session,
                world.shop,
                CustomerMergeEvent(str(survivor), (str(merged),), source_id=f"merge-{step}"),
                now=world.clock.utc(),
            )
            world.session.commit()
            world.remote.customers.pop(merged)  # Shopify deletes the merged customer
            customers.remove(merged)
        world.clock.sleep(rng.uniform(0, 3600))
        if step % 50 == 49:
            sync(world, pacer)  # the syncer runs while the workload goes on
    sync(world, pacer)
    assert assert_shopify_matches_db(world) >= 20
    assert max(metafields_set_sizes(world)) <= 25
    assert world.remote.throttled_count == 0


def test_many_members_pack_into_full_calls(world):
    customers = [world.customer() for _ in range(30)]
    for cid in customers:
        world.buy(cid, "5000")
    report = sync(world)
    sizes = metafields_set_sizes(world)
    # 30 members x 14 metafields = 420 writes: 17 calls of at most 25 (full calls, members may span two).
    assert max(sizes) <= 25 and sum(sizes) == 30 * 14 and report.set_calls == len(sizes) == 17
    assert_shopify_matches_db(world)


def test_coalesces_repeated_changes_of_one_member(world):
    cid = world.customer()
    for _ in range(10):
        world.buy(cid, "1000")
    report = sync(world)
    assert report.set_calls == 1 and report.members == 1
    assert_shopify_matches_db(world)


@pytest.mark.slow
def test_steady_20_orders_per_second_never_throttles(world):
    rng = random.Random(20)
    customers = [world.customer() for _ in range(200)]
    in_store = {cid: rng.random() < 0.5 for cid in customers}  # where each member usually shops
    pacer = world.pacer()
    for cid in customers:  # members with a history, already in Shopify (as after the install backfill)
        world.buy(cid, "3000", pos=in_store[cid], commit=False)
    world.session.commit()
    sync(world, pacer)
    world.clock.sleep(600)
    # Start low: whatever the syncer spends beyond the restore rate would run into THROTTLED at once.
    world.remote.bucket.drain(world.remote.bucket.maximum - 600)
    start = world.clock.now
    seconds = 20
    for second in range(seconds):
        for _ in range(20):
            cid = rng.choice(customers)
            world.buy(cid, str(rng.choice([1500, 4000, 9000])), pos=in_store[cid], commit=False)
        world.session.commit()
        sync(world, pacer)
        world.clock.now = max(world.clock.now, start + second + 1)
    assert world.remote.throttled_count == 0
    # The syncer keeps up with 20 orders/s on 100 points/s: little backlog when the orders stop.
    assert world.clock.now - start < seconds + 5
    assert_shopify_matches_db(world)


def test_burst_after_someone_else_drained_the_bucket_recovers(world):
    customers = [world.customer() for _ in range(150)]
    for cid in customers:
        world.buy(cid, "2500")
    world.remote.bucket.drain()  # another process of the app spent the whole bucket a moment ago
    pacer = world.pacer()
    report = sync(world, pacer)
    assert pacer.throttled >= 1 and world.remote.throttled_count == pacer.throttled
    assert report.confirmed == 150
    assert_shopify_matches_db(world)
    later = world.remote.throttled_count
    world.clock.sleep(timedelta(seconds=30).total_seconds())
    for cid in customers[:50]:
        world.buy(cid, "900")
    sync(world, pacer)
    assert world.remote.throttled_count == later  # back in steady state: no more THROTTLED


def test_metafields_are_not_held_up_by_tags_waiting_for_budget(world):
    """New members' tags outspend a Standard bucket; their metafields go first and the tags follow."""
    customers = first_sales(world, 40)
    # Enough budget for the metafields (23 calls, 230 points) above the pacer's reserve (400), not for
    # 40 tag calls on top.
    world.remote.bucket.drain(world.remote.bucket.maximum - 750)
    pacer = world.pacer()
    first = one_round(world, pacer)
    assert first.metafields_written == 40 * 14 and first.tags_deferred > 0
    assert pacer.waited == 0  # nothing in this round waited for budget
    from app.models.sync_state import FreshnessSample

    # The deferred members' metafields are in Shopify already, and nothing is measured twice for them.
    tagged = [cid for cid in customers if world.remote.customer_tags(cid)]
    assert len(tagged) == 40 - first.tags_deferred
    samples = world.session.query(FreshnessSample).count()
    assert samples == 40  # one per member, taken when its metafields were written
    rest = sync(world, pacer)  # later passes: only tags left, so they wait for budget and finish
    assert rest.metafields_written == 0 and rest.confirmed == first.tags_deferred
    assert world.session.query(FreshnessSample).count() == samples
    assert world.remote.throttled_count == 0
    assert_shopify_matches_db(world)


def test_a_rounds_tags_travel_in_one_request(world):
    first_sales(world, 12)
    before = world.remote.graphql_calls
    report = sync(world)
    assert report.tag_calls == 1  # 12 tagsAdd mutations, one request
    assert world.remote.graphql_calls - before == report.set_calls + report.tag_calls
    assert_shopify_matches_db(world)


def test_a_refused_tag_change_is_reported_and_the_others_applied(world):
    from app.sync.tags import TagChange, push_tag_changes

    customers = [world.customer() for _ in range(3)]
    world.remote.customers.pop(customers[0])  # deleted in Shopify meanwhile
    changes = [
        TagChange(cid, f"gid://shopify/Customer/{cid}", ("tsunagu:rank-gold",), ("tsunagu:rank-silver",))
        for cid in customers
    ]
    calls, refused = push_tag_changes(world.client(), world.pacer(), changes)
    assert calls == 1
    assert refused == {customers[0]: "tagsRemove: Customer does not exist"}
    assert [world.remote.customer_tags(cid) for cid in customers[1:]] == [["tsunagu:rank-gold"]] * 2


def test_metafield_work_goes_before_members_that_only_wait_for_tags(world):
    """A sale for a member whose tags wait for budget (and whose webhook marker was lost) is not starved."""
    from app.models.member import Member
    from app.models.sync_state import MemberSyncState
    from app.sync.syncer import dirty_members, shop_today

    first_sales(world, 5)
    # Metafields (3 calls) yes; tags only while 400 (reserve) + 100 (a second's restore) stay untouched.
    world.remote.bucket.drain(world.remote.bucket.maximum - 560)
    first = one_round(world)
    assert first.tags_deferred > 0
    waiting = {
        s.member_id for s in world.session.query(MemberSyncState) if s.written_version != s.confirmed_version
    }
    newest = max(world.session.query(Member).all(), key=lambda m: m.id)
    world.buy(int(newest.shopify_customer_id), "900")  # a new sale: metafields to write again
    world.session.query(MemberSyncState).filter_by(member_id=newest.id).update({"pending_since": None})
    world.session.commit()
    picked = dirty_members(world.session, world.shop, shop_today(world.shop, world.clock.utc()), 1)
    assert [m.id for m, _ in picked] == [newest.id]
    assert waiting - {newest.id}  # there were members waiting for tags it had to overtake
