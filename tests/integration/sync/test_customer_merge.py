"""Staff merge two Shopify customers: Shopify merges; its customers/merge webhook moves points and history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.customers.shopify_merges import NotShopifyCustomers, request_customer_merge
from app.dispatch import customers_merged
from app.models.member import Member
from app.models.purchase import Purchase
from app.shopify.errors import ShopifyUserErrors


def test_merge_goes_through_shopify_and_its_webhook_moves_the_member(world):
    keep_id, fold_id = world.customer(email="hanako@example.jp"), world.customer(email="Hanako@Example.jp ")
    world.buy(keep_id, "12000", pos=True)
    world.buy(fold_id, "25000")
    keep, fold = (
        world.session.scalar(select(Member).where(Member.shopify_customer_id == str(cid)))
        for cid in (keep_id, fold_id)
    )
    points = keep.points_pending + fold.points_pending + keep.points_available + fold.points_available
    assert points > 0
    announced: list[tuple[str, dict]] = []
    world.state.on_event = lambda shop, topic, payload: announced.append((topic, payload))

    result = request_customer_merge(world.shop, keep, fold)

    assert result.kept_customer_gid == f"gid://shopify/Customer/{keep_id}"
    assert fold_id not in world.remote.customers  # Shopify did the merge
    assert [topic for topic, _ in announced] == ["customers/merge"]
    # Nothing moved locally until Shopify's webhook says the merge completed.
    world.session.refresh(fold)
    assert fold.status == "active"

    _topic, body = announced[0]
    customers_merged(world.session, world.shop, _Row(), body)
    world.session.commit()
    world.session.refresh(keep)
    world.session.refresh(fold)
    assert fold.status == "merged" and fold.merged_into_id == keep.id
    # (the merge recomputes at the wall clock, after the return window: pending may have matured)
    assert keep.points_pending + keep.points_available == points
    history = world.session.scalars(select(Purchase.source_id).where(Purchase.member_id == keep.id)).all()
    assert len(history) == 2  # the store sale and the online one are now one member's history


def test_shopify_refusal_is_an_error_and_changes_nothing(world):
    keep_id = world.customer(email="a@example.jp")
    world.buy(keep_id, "5000")
    keep = world.session.scalar(select(Member).where(Member.shopify_customer_id == str(keep_id)))
    ghost = Member(shop_id=world.shop.id, shopify_customer_id="999999", member_number="0", status="active")
    with pytest.raises(ShopifyUserErrors):
        request_customer_merge(world.shop, keep, ghost)
    assert keep_id in world.remote.customers


def test_store_only_members_are_not_merged_in_shopify(world):
    keep_id = world.customer()
    world.buy(keep_id, "5000")
    keep = world.session.scalar(select(Member).where(Member.shopify_customer_id == str(keep_id)))
    store_only = Member(shop_id=world.shop.id, shopify_customer_id=None, member_number="1", status="active")
    with pytest.raises(NotShopifyCustomers):
        request_customer_merge(world.shop, keep, store_only)
    with pytest.raises(NotShopifyCustomers):
        request_customer_merge(world.shop, keep, keep)


class _Row:
    """The inbox row the handler is given (only the delivery time is read)."""

    triggered_at = None
