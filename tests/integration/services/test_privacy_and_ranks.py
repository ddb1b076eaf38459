"""Compliance (export, redact, replay after redact) and rank use cases (floors, snapshots, rule edits)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.customers.events import apply_customer
from app.customers.privacy import export_customer, redact_customer
from app.domain.events import CustomerEvent, CustomerRef
from app.domain.settings import RankRules, ShopRules
from app.models import (
    CustomerTombstone,
    LedgerPosting,
    LedgerTransaction,
    Member,
    PointLot,
    Purchase,
    PurchaseRefund,
    RankSnapshot,
)
from app.points import spending
from app.points.purchases import apply_purchase, apply_refund
from app.points.ranks import preview_rules, set_rank_floor, snapshot_month_end
from app.points.upkeep import refresh_shop
from app.shops.rules import load_rules, save_rules
from tests.integration.services.factories import at, order, refund


def member_of(session, cid="1001") -> Member | None:
    return session.scalar(select(Member).where(Member.shopify_customer_id == cid))


def test_export_holds_everything_about_the_customer_and_no_plain_contacts(session, shop):
    apply_customer(
        session, shop, CustomerEvent("create", "1001", at(0), email="taro@example.jp", phone="090-1234-5678")
    )
    apply_purchase(session, shop, order("o1", 12000, pos_location="7", store_name="Shibuya"), now=at(0))
    apply_refund(session, shop, refund("r1", "o1", 2000, day=1), now=at(1))
    data = export_customer(session, shop, "1001")
    json.dumps(data)  # JSON-able as it is
    (member,) = data["members"]
    assert member["points"] == {"available": 0, "pending": 100, "held": 0}
    assert (
        member["purchases"][0]["order_id"] == "o1"
        and member["purchases"][0]["refunds"][0]["refund_id"] == "r1"
    )
    assert [entry["kind"] for entry in member["ledger"]] == ["earn", "refund_reversal"]
    text = json.dumps(data)
    assert "taro@example.jp" not in text and "090-1234-5678" not in text and "+8190" not in text
    assert export_customer(session, shop, "9999")["members"] == []


def test_redact_deletes_history_keeps_anonymous_totals_and_blocks_replays(session, shop):
    apply_purchase(session, shop, order("o1", 10000, day=0), now=at(0))
    apply_purchase(session, shop, order("o2", 20000, day=1), now=at(1))
    apply_purchase(session, shop, order("other", 5000, customer="2002", day=1), now=at(1))
    refresh_shop(session, shop, at(20))
    spending.spend(session, member_of(session), 100, source="pos", source_id="s1", now=at(20))
    issued_before = session.scalar(
        select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "issued")
    )

    assert redact_customer(session, shop, "1001")

    assert member_of(session) is None
    assert session.scalar(select(func.count(Purchase.id))) == 1  # only the other customer's order
    assert session.scalar(select(func.count(PointLot.id)).where(PointLot.purchase_id.is_(None))) == 0
    assert session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.shop_id == shop.id)) == 0
    # The issued and redeemed totals stay; what the customer still had went to `redacted`, without a name.
    assert (
        session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "issued"))
        == issued_before
    )
    assert (
        session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "redacted"))
        == 200
    )
    orphans = session.scalar(
        select(func.count(LedgerTransaction.id)).where(
            LedgerTransaction.member_id.is_(None), LedgerTransaction.purchase_id.is_(None)
        )
    )
    assert orphans >= 4
    assert session.scalar(select(func.count(CustomerTombstone.id))) == 1

    # Shopify retries an old order, a refund and a customer update of that customer: nothing comes back.
    assert apply_purchase(session, shop, order("o1", 10000, day=0, version=5), now=at(30)) is None
    assert apply_purchase(session, shop, order("o3", 10000, day=30), now=at(30)) is None
    apply_refund(session, shop, refund("r9", "o2", 100, day=30), now=at(30))
    assert (
        apply_customer(session, shop, CustomerEvent("update", "1001", at(31), email="x@example.jp")) is None
    )
    assert member_of(session) is None
    assert session.scalar(select(func.count(Purchase.id))) == 1
    assert session.scalar(select(PurchaseRefund.purchase_id).where(PurchaseRefund.source_id == "r9")) is None
    assert export_customer(session, shop, "1001")["redacted"] is True
    assert redact_customer(session, shop, "1001") is False  # a second request finds nothing


def test_redact_follows_merged_members(session, shop):
    from app.customers.events import apply_merge
    from app.domain.events import CustomerMergeEvent

    apply_purchase(session, shop, order("a1", 10000, customer="A"), now=at(0))
    apply_purchase(session, shop, order("b1", 10000, customer="B"), now=at(0))
    apply_merge(session, shop, CustomerMergeEvent("B", ("A",)), now=at(1))
    redact_customer(session, shop, "B")
    assert session.scalar(select(func.count(Member.id))) == 0
    assert session.scalar(select(func.count(Purchase.id))) == 0


def test_staff_floor_snapshots_and_rule_edits(session, shop):
    apply_purchase(session, shop, order("o1", 35000, day=0), now=at(0))  # 2026-03-02: silver afterwards
    apply_purchase(session, shop, order("o2", 5000, customer="2002", day=0), now=at(0))
    silver, regular = member_of(session), member_of(session, "2002")
    assert (silver.rank, regular.rank) == ("silver", "regular")

    set_rank_floor(session, shop, regular, "gold", at(60), now=at(1))
    assert regular.rank == "gold"
    refresh_shop(session, shop, at(61))
    assert regular.rank == "regular"  # the floor expired

    assert snapshot_month_end(session, shop, date(2026, 3, 1)) == 2
    assert snapshot_month_end(session, shop, date(2026, 3, 1)) == 0  # once per member and month
    snaps = dict(session.execute(select(RankSnapshot.member_id, RankSnapshot.rank)).all())
    assert snaps == {silver.id: "silver", regular.id: "gold"}  # as held on 31 March, floor included
    metric = session.scalar(select(RankSnapshot.metric).where(RankSnapshot.member_id == silver.id))
    assert metric == Decimal(35000)

    # Silver raised to 40,000: the preview says who would move; ranks stay until re-evaluated.
    tiers = tuple(
        replace(t, threshold=Decimal(40000)) if t.handle == "silver" else t for t in RankRules().tiers
    )
    new_ranks = RankRules(tiers=tiers)
    result = preview_rules(session, shop, new_ranks, now=at(61))
    assert result.moves == {("silver", "regular"): 1}
    save_rules(session, shop, ShopRules(ranks=new_ranks))
    assert silver.rank == "silver"
    assert load_rules(shop).ranks.tier("silver").threshold == 40000
    refresh_shop(session, shop, at(62))
    assert silver.rank == "regular"


def test_purchase_ref_without_shopify_id_matches_but_never_creates(session, shop):
    apply_customer(session, shop, CustomerEvent("create", "1001", at(0), phone="090-1234-5678"))
    event = replace(order("o1", 1000, customer=None), customer_ref=CustomerRef(phone="09012345678"))
    assert apply_purchase(session, shop, event, now=at(0)).member_id == member_of(session).id
    stranger = replace(order("o2", 1000, customer=None), customer_ref=CustomerRef(phone="08099998888"))
    assert apply_purchase(session, shop, stranger, now=at(0)) is None


def test_deleted_customer_keeps_history_but_earns_no_more(session, shop):
    apply_purchase(session, shop, order("o1", 1000), now=at(0))
    apply_customer(session, shop, CustomerEvent("delete", "1001", at(1)))
    assert member_of(session).status == "deleted"
    assert apply_purchase(session, shop, order("o2", 1000, day=2), now=at(2)) is None
    assert session.scalar(select(func.count(Purchase.id))) == 1
