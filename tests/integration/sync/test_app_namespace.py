"""The app learns its `$app` namespace from Shopify and builds every segment query from it."""

from __future__ import annotations

from sqlalchemy import select

from app.models.sync_state import ShopSegment
from app.shops.namespace import learn, namespace_of_app, namespace_written
from app.sync.runner import install_tasks
from app.sync.segments import install_standard_segments
from app.sync.syncer import sync_shop
from tests.conftest import TEST_ENV
from tests.integration.sync.conftest import DOMAIN


def test_the_numeric_app_id_differs_from_the_client_id_and_every_standard_segment_is_created(world):
    assert world.remote.app_namespace != f"app--{TEST_ENV['SHOPIFY_API_KEY']}"
    assert world.shop.app_namespace is None
    done = install_tasks(world.session, world.shop, world.client(), world.pacer())
    assert world.shop.app_namespace == world.remote.app_namespace
    rows = world.session.scalars(select(ShopSegment).where(ShopSegment.shop_id == world.shop.id)).all()
    assert rows and [(r.handle, r.error) for r in rows if r.status != "created"] == []
    assert f"{len(rows)}/{len(rows)} segments created" in done
    ns = world.remote.app_namespace
    queries = [s["query"] for s in world.remote.segments()]
    assert len(queries) == len(rows)
    assert all(f"metafields.{ns}." in q for q in queries)


def test_segments_wait_while_shopify_cannot_tell_the_namespace(world):
    world.state.tokens.revoke(DOMAIN)  # every call is refused now
    assert learn(world.session, world.shop, world.client(), world.pacer()) is None
    assert install_standard_segments(world.session, world.shop, world.client(), world.pacer()) == []
    assert world.shop.app_namespace is None
    assert world.session.scalars(select(ShopSegment)).all() == []


def test_a_sync_learns_the_namespace_from_what_metafields_set_answers(world):
    customer = world.customer()
    world.buy(customer, "3000")
    report = sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    assert report.metafields_written > 0
    world.session.refresh(world.shop)
    assert world.shop.app_namespace == world.remote.app_namespace


def test_only_shopifys_own_answers_are_taken_as_the_namespace():
    assert namespace_of_app("gid://shopify/App/1576377") == "app--1576377"
    assert namespace_of_app("gid://shopify/Shop/1576377") is None
    assert namespace_of_app("gid://shopify/App/abc") is None
    assert namespace_of_app(None) is None
    assert namespace_written("app--1576377") == "app--1576377"
    assert namespace_written("app--1576377--loyalty") == "app--1576377"
    assert namespace_written("tsunagu") is None
    assert namespace_written("app--0123456789abcdef0123456789abcdef") is None
