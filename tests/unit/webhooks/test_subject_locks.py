"""Worker advisory locks: rows about the same order or customer of a shop take turns on PostgreSQL."""


def test_advisory_lock_keys_are_stable_sorted_and_per_shop():
    from app.jobs.worker import subject_lock_keys
    from app.models.inbox import InboxEvent

    row = InboxEvent(shop_domain="a.myshopify.com", resource_id="1", customer_id="2")
    keys = subject_lock_keys(row)
    assert keys == sorted(keys) and len(keys) == 2
    assert keys == subject_lock_keys(
        InboxEvent(shop_domain="a.myshopify.com", resource_id="1", customer_id="2")
    )
    assert set(keys).isdisjoint(subject_lock_keys(InboxEvent(shop_domain="b.myshopify.com", resource_id="1")))
