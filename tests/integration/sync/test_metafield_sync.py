"""The syncer writes what the DB projection says, only what changed, at most 25 a call."""

from __future__ import annotations

from sqlalchemy import select

from app.members.projection import project
from app.models.member import Member
from app.models.sync_state import MemberSyncState
from app.sync.syncer import sync_shop


def projection_of(world, member: Member) -> dict[str, str]:
    p = project(world.session, world.shop, [member], world.clock.utc())[member.id]
    return {k: v.value for k, v in p.metafields.items() if v.value is not None}


def remote_values(world, customer_id: int) -> dict[str, str]:
    return {k: v["value"] for k, v in world.remote.customer_metafields(customer_id).items()}


def member_of(world, customer_id: int) -> Member:
    return world.session.scalars(select(Member).where(Member.shopify_customer_id == str(customer_id))).one()


def test_first_sync_writes_the_whole_projection_and_tags(world):
    cid = world.customer(email="a@example.jp")
    world.buy(cid, "12000", pos=True)
    world.buy(cid, "25000")
    report = sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    member = member_of(world, cid)
    assert remote_values(world, cid) == projection_of(world, member)
    assert world.remote.customer_tags(cid) == ["tsunagu:omni", "tsunagu:rank-silver"]
    assert report.confirmed == 1 and report.set_calls == 1
    state = world.session.get(MemberSyncState, member.id)
    assert state.confirmed_version == member.sync_version


def test_second_sync_sends_only_the_changed_keys(world):
    cid = world.customer()
    world.buy(cid, "5000")
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    seen = len(world.remote.mutation_log)
    world.buy(cid, "3000")
    report = sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    print(report)
    sizes = [s["metafields"] for name, s in world.remote.mutation_log[seen:] if name == "metafieldsSet"]
    # purchase_count, online_purchase_count, spend_12m, lifetime_spend, points_pending, purchase_history:
    # member number, rank, dates (same day), channel mix and the rest stay as they were.
    assert sizes == [6]
    assert remote_values(world, cid) == projection_of(world, member_of(world, cid))


def test_nothing_dirty_means_no_call(world):
    cid = world.customer()
    world.buy(cid, "5000")
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    calls = world.remote.graphql_calls
    report = sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    assert report.members == 0 and world.remote.graphql_calls == calls


def test_values_that_become_empty_are_deleted(world):
    cid = world.customer()
    oid = world.buy(cid, "6000", pos=True)
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    assert "first_purchase_at" in remote_values(world, cid)
    world.refund(oid, "6000")  # fully returned: no purchase left, no dates, no favourite store
    report = sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    have = remote_values(world, cid)
    assert report.metafields_deleted >= 3 and "first_purchase_at" not in have and "favorite_store" not in have
    assert have == projection_of(world, member_of(world, cid))
    assert world.remote.customer_tags(cid) == ["tsunagu:rank-regular"]


def test_a_value_written_elsewhere_is_reread_not_blindly_overwritten(world):
    cid = world.customer()
    world.buy(cid, "6000")
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    # Someone else (a syncer whose lease ran out, an admin edit) changed a value since we confirmed it.
    owner = f"gid://shopify/Customer/{cid}"
    world.remote.write_metafield(owner, world.remote.app_namespace, "purchase_count", "number_integer", "99")
    world.buy(cid, "1000")
    report = sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    assert report.stale == 1  # compareDigest refused the write; the syncer re-read and wrote again
    assert remote_values(world, cid) == projection_of(world, member_of(world, cid))


def test_a_stale_syncer_cannot_overwrite_a_newer_value(world):
    from app.sync.metafields import diff, pack, send_sets

    cid = world.customer()
    world.buy(cid, "6000")
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    member = member_of(world, cid)
    state = world.session.get(MemberSyncState, member.id)
    old_values, old_digests = dict(state.values), dict(state.digests)
    world.buy(cid, "2000")
    stalled = project(world.session, world.shop, [member], world.clock.utc())[
        member.id
    ]  # computed, then stalls
    world.buy(cid, "3000")
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)  # the new holder
    newest = remote_values(world, cid)
    (batch,) = pack([diff(stalled, old_values, old_digests)])
    result = send_sets(world.client(), world.pacer(), batch)  # the stalled syncer wakes up and writes
    assert result.stale == {member.id} and result.confirmed == {}
    assert remote_values(world, cid) == newest == projection_of(world, member_of(world, cid))
