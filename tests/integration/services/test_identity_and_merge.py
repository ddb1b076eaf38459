"""Identity linking (member number, phone, email, review queue) and merges through the services."""

from __future__ import annotations

from sqlalchemy import func, select

from app.customers.events import apply_customer, apply_external_member, apply_merge
from app.customers.merges import accept_review
from app.domain.events import CustomerEvent, CustomerMergeEvent, ExternalMemberEvent
from app.models import ExternalLink, IdentityReview, LedgerPosting, Member, Purchase
from app.points import spending
from app.points.purchases import apply_purchase, apply_refund
from app.points.ranks import set_rank_floor
from app.points.upkeep import refresh_shop
from tests.integration.services.factories import at, order, refund


def customer(cid: str, *, email=None, phone=None, day=0, kind="create") -> CustomerEvent:
    return CustomerEvent(kind=kind, shopify_customer_id=cid, updated_at=at(day), email=email, phone=phone)


def smaregi_member(code: str, *, external_id=None, email=None, phone=None) -> ExternalMemberEvent:
    return ExternalMemberEvent(
        source="smaregi",
        external_id=external_id or f"id-{code}",
        external_code=code,
        email=email,
        phone=phone,
    )


def test_customer_gets_a_member_with_hashed_contacts_only(session, shop):
    member = apply_customer(session, shop, customer("1001", email=" Taro@Example.JP ", phone="090-1234-5678"))
    assert member.member_number.isdigit() and len(member.member_number) == 12
    assert member.phone_hash and member.email_hash
    assert "1234" not in member.phone_hash and "taro" not in member.email_hash
    version = member.sync_version
    apply_customer(session, shop, customer("1001", email="taro@example.jp", phone="+81 90 1234 5678", day=1))
    assert member.sync_version == version  # the same contacts in another notation are no change
    apply_customer(session, shop, customer("1001", email="new@example.jp", day=2))
    assert member.sync_version == version + 1
    older = apply_customer(session, shop, customer("1001", email="old@example.jp", day=1))
    assert older is member and member.sync_version == version + 1  # an older snapshot is ignored


def test_store_member_links_by_member_number_then_phone_then_email(session, shop):
    online = apply_customer(session, shop, customer("1001", email="a@example.jp", phone="090-1111-2222"))
    other = apply_customer(session, shop, customer("1002", email="b@example.jp", phone="090-3333-4444"))
    # The card number printed on the member card, typed at the Smaregi till, wins over a different phone.
    by_number = apply_external_member(
        session, shop, smaregi_member(online.member_number, phone="090-3333-4444")
    )
    assert by_number.id == online.id
    by_phone = apply_external_member(session, shop, smaregi_member("S-2", phone="09033334444"))
    assert by_phone.id == other.id
    by_email = apply_external_member(session, shop, smaregi_member("S-3", email="A@EXAMPLE.JP"))
    assert by_email.id == online.id
    links = {link.code: link.linked_by for link in session.scalars(select(ExternalLink))}
    assert links == {online.member_number: "member_number", "S-2": "phone", "S-3": "email"}
    # A sale at the till with that code now credits the online member.
    sale = apply_purchase(
        session, shop, order("t-1", 5000, customer=None, code="S-2", source="smaregi", pos_location="3")
    )
    assert sale.member_id == other.id and sale.channel == "external_pos" and sale.location_key == "smaregi:3"


def test_ambiguous_store_member_goes_to_review_and_is_never_merged_automatically(session, shop):
    mother = apply_customer(session, shop, customer("1001", phone="03-1234-5678"))
    son = apply_customer(session, shop, customer("1002", phone="0312345678"))  # the family landline
    store = apply_external_member(session, shop, smaregi_member("S-9", phone="+81 3 1234 5678"))
    assert store.id not in (mother.id, son.id) and store.shopify_customer_id is None
    review = session.scalar(select(IdentityReview))
    assert review.status == "open" and sorted(review.candidate_ids) == sorted([mother.id, son.id])
    assert review.matched_by == "phone"
    # The store member collects points meanwhile.
    apply_purchase(session, shop, order("t-1", 20000, customer=None, code="S-9", source="smaregi"), now=at(0))
    assert session.get(Member, store.id).points_pending == 200
    # Staff pick the mother: the store member, its history and points fold into her.
    assert accept_review(session, shop, review.id, mother.id, now=at(1))
    assert review.status == "linked" and review.resolved_member_id == mother.id
    assert store.status == "merged" and store.merged_into_id == mother.id
    assert mother.points_pending == 200
    assert session.scalar(select(Purchase.member_id).where(Purchase.source_id == "t-1")) == mother.id
    again = apply_purchase(
        session, shop, order("t-2", 1000, customer=None, code="S-9", source="smaregi"), now=at(2)
    )
    assert again.member_id == mother.id


def test_shopify_customer_adopts_a_matching_store_only_member(session, shop):
    store = apply_external_member(session, shop, smaregi_member("S-1", phone="090-5555-6666"))
    apply_purchase(session, shop, order("t-1", 10000, customer=None, code="S-1", source="smaregi"), now=at(0))
    member = apply_customer(session, shop, customer("2001", phone="09055556666"))
    assert member.id == store.id and member.shopify_customer_id == "2001"
    assert member.points_pending == 100


def test_customers_merge_moves_ledger_history_and_rank_and_recomputes(session, shop):
    # A: 25,000 online (regular before it: 250). B: 20,000 in store (regular: 200), spent 0.
    apply_purchase(session, shop, order("a-1", 25000, customer="A", day=0), now=at(0))
    apply_purchase(
        session,
        shop,
        order("b-1", 20000, customer="B", day=1, pos_location="7", store_name="Ginza"),
        now=at(1),
    )
    apply_purchase(
        session,
        shop,
        order("b-2", 10000, customer="B", day=2, pos_location="7", store_name="Ginza"),
        now=at(2),
    )
    a = session.scalar(select(Member).where(Member.shopify_customer_id == "A"))
    b = session.scalar(select(Member).where(Member.shopify_customer_id == "B"))
    assert (a.points_pending, b.points_pending, a.rank, b.rank) == (250, 300, "regular", "silver")
    set_rank_floor(session, shop, a, "gold", at(100), now=at(2))
    version = b.sync_version

    apply_merge(session, shop, CustomerMergeEvent(surviving_id="B", merged_ids=("A",)), now=at(3))

    assert a.status == "merged" and a.merged_into_id == b.id
    assert (a.points_pending, a.points_available) == (0, 0)
    # Combined history in time order: a-1 (25,000, regular) -> b-1 (before it 25,000: regular) -> b-2 (before
    # it 45,000: silver x1.2 = 120). b-2 earned 100 at regular before; the merge re-evaluates it.
    points = dict(session.execute(select(Purchase.source_id, Purchase.points)).all())
    assert points == {"a-1": 250, "b-1": 200, "b-2": 120}
    assert b.points_pending == 570
    assert b.rank == "gold"  # A's staff floor moved with the history (55,000 alone is silver)
    assert b.sync_version > version
    total = session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.shop_id == shop.id))
    assert total == 0
    # A late refund or order of the merged customer lands on the survivor.
    apply_refund(session, shop, refund("ra", "a-1", 5000, day=4), now=at(4))
    assert b.points_pending == 520
    late = apply_purchase(session, shop, order("a-2", 1000, customer="A", day=5), now=at(5))
    assert late.member_id == b.id
    # Re-delivering the merge changes nothing.
    before = b.points_pending
    apply_merge(session, shop, CustomerMergeEvent(surviving_id="B", merged_ids=("A",)), now=at(6))
    assert b.points_pending == before


def test_merge_carries_a_negative_balance_and_repays_it(session, shop):
    apply_purchase(session, shop, order("a-1", 10000, customer="A", day=0), now=at(0))
    apply_purchase(session, shop, order("b-1", 30000, customer="B", day=0), now=at(0))
    a = session.scalar(select(Member).where(Member.shopify_customer_id == "A"))
    b = session.scalar(select(Member).where(Member.shopify_customer_id == "B"))
    refresh_shop(session, shop, at(20))
    spending.spend(session, a, 100, source="pos", source_id="s1", now=at(20))
    apply_refund(session, shop, refund("r1", "a-1", 10000, day=21), now=at(21))
    assert (a.points_available, a.points_debt, a.points_flag) == (-100, 100, "negative_balance")
    apply_merge(session, shop, CustomerMergeEvent(surviving_id="B", merged_ids=("A",)), now=at(22))
    assert (b.points_available, b.points_debt) == (200, 0)  # 300 - 100 owed
    # In the merged history the refund took its points from B's order, so the balance never went negative.
    assert b.points_flag is None
