"""A Hypothesis state machine driving the real member services: earn, duplicate, reorder, refund, spend,
expire, clock jump and merge, with the ledger invariants checked after every step.

CI runs it with the `ci` profile: 200 examples of up to 50 steps on SQLite (in memory), and a shorter
confirmation run of the same machine on PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from app import create_app
from app.config import load_settings
from app.customers.events import apply_merge
from app.domain.events import CustomerMergeEvent, CustomerRef, PurchaseEvent, RefundEvent
from app.domain.history import PurchaseFact, RefundFact
from app.domain.points import order_points
from app.domain.ranks import held_before, held_now
from app.domain.settings import PointRules, RankRules, ShopRules
from app.extensions import db
from app.members.records import (
    active_member,
    by_shopify_id,
    member_purchases,
    rank_floor,
    refunds_by_purchase,
    to_fact,
)
from app.models import LedgerPosting, LedgerTransaction, Member, PointLot, Purchase, Shop
from app.points import spending
from app.points.engine import rebuild_members
from app.points.purchases import apply_purchase, apply_refund
from app.points.upkeep import refresh_shop
from app.shops.rules import load_rules, save_rules
from scripts.pgtemp import backend
from tests.conftest import TEST_ENV
from tests.conftest import _ConnectionSession as ConnectionSession

CUSTOMERS = ("c1", "c2", "c3")
START = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
TZ = "Asia/Tokyo"


@dataclass
class OrderModel:
    """What the test knows about an order, independently of the database."""

    order_id: str
    customer: str
    processed_at: datetime
    gross: Decimal
    cancelled: bool = False
    refunds: list[RefundEvent] = field(default_factory=list)
    version: int = 0

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0"))


class LedgerMachine(RuleBasedStateMachine):
    """One shop, three customers, and every kind of event in any order."""

    flask_app = None  # set by the test below

    def __init__(self) -> None:
        super().__init__()
        self.ctx = self.flask_app.app_context()
        self.ctx.push()
        self.connection = db.engine.connect()
        self.outer = self.connection.begin()
        self.session = db._make_scoped_session(
            {
                "bind": self.connection,
                "join_transaction_mode": "create_savepoint",
                "class_": ConnectionSession,
            }
        )
        self.shop = Shop(domain="machine.myshopify.com", currency="JPY", timezone=TZ)
        self.session.add(self.shop)
        self.session.flush()
        self.now = START
        self.tick = 0
        self.orders: list[OrderModel] = []
        self.queue: list[PurchaseEvent | RefundEvent] = []
        self.delivered: list[PurchaseEvent | RefundEvent] = []
        self.alias: dict[str, str] = {}
        self.spends = 0
        self.verified: dict[int, tuple[int, datetime]] = {}
        self.checked_txn = 0
        self.members_seen: list[Member] = []
        self.policy = "allow_negative"

    # -- helpers ---------------------------------------------------------------------------------------------

    def survivor(self, customer: str) -> str:
        while customer in self.alias:
            customer = self.alias[customer]
        return customer

    def version_at(self) -> datetime:
        self.tick += 1
        return self.now + timedelta(microseconds=self.tick)

    def snapshot(self, order: OrderModel) -> PurchaseEvent:
        order.version += 1
        return PurchaseEvent(
            source="shopify",
            source_id=order.order_id,
            shop_domain=self.shop.domain,
            customer_ref=CustomerRef(shopify_customer_id=order.customer),
            currency="JPY",
            gross_amount=order.gross,
            processed_at=order.processed_at,
            source_updated_at=self.version_at(),
            items_count=1,
            source_name="web",
            cancelled=order.cancelled,
            refunds=tuple(order.refunds),
        )

    def send(self, event: PurchaseEvent | RefundEvent, now: bool) -> None:
        if now:
            self.apply(event)
        else:
            self.queue.append(event)

    def apply(self, event: PurchaseEvent | RefundEvent) -> None:
        if isinstance(event, PurchaseEvent):
            apply_purchase(self.session, self.shop, event, now=self.now)
        else:
            apply_refund(self.session, self.shop, event, now=self.now)
        self.delivered.append(event)

    def member_of(self, customer: str) -> Member | None:
        row = by_shopify_id(self.session, self.shop, customer)
        return active_member(self.session, row) if row is not None else None

    # -- rules -----------------------------------------------------------------------------------------------

    @initialize(
        policy=st.sampled_from(["allow_negative", "claw_back_pending"]),
        expiry_mode=st.sampled_from(["last_activity", "per_lot"]),
        downgrade=st.sampled_from(["immediate", "next_cycle"]),
    )
    def configure(self, policy: str, expiry_mode: str, downgrade: str) -> None:
        rules = ShopRules(
            points=PointRules(negative_policy=policy, expiry_mode=expiry_mode),  # type: ignore[arg-type]
            ranks=RankRules(downgrade_timing=downgrade, cycle_start_month=4),  # type: ignore[arg-type]
        )
        save_rules(self.session, self.shop, rules)
        self.policy = policy

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        amount=st.one_of(st.integers(0, 60000), st.sampled_from([12000, 25000, 30000, 100000, 150000])),
        backdate=st.integers(0, 20),
        deliver=st.booleans(),
    )
    def new_order(self, customer: str, amount: int, backdate: int, deliver: bool) -> None:
        order = OrderModel(
            order_id=f"o{len(self.orders) + 1}",
            customer=self.survivor(customer),
            processed_at=self.now - timedelta(days=backdate),
            gross=Decimal(amount),
        )
        self.orders.append(order)
        self.send(self.snapshot(order), deliver)

    @precondition(lambda self: self.orders)
    @rule(
        index=st.integers(0, 10_000),
        amount=st.integers(0, 60000),
        cancel=st.booleans(),
        deliver=st.booleans(),
    )
    def edit_order(self, index: int, amount: int, cancel: bool, deliver: bool) -> None:
        order = self.orders[index % len(self.orders)]
        order.gross = max(Decimal(amount), order.refunded)
        order.cancelled = order.cancelled or cancel
        self.send(self.snapshot(order), deliver)

    @precondition(lambda self: self.orders)
    @rule(
        index=st.integers(0, 10_000),
        fraction=st.sampled_from([Decimal("0.1"), Decimal("0.2"), Decimal("0.5"), Decimal("1")]),
        deliver=st.booleans(),
        with_snapshot=st.booleans(),
    )
    def refund(self, index: int, fraction: Decimal, deliver: bool, with_snapshot: bool) -> None:
        order = self.orders[index % len(self.orders)]
        left = order.gross - order.refunded
        amount = (left * fraction).quantize(Decimal("1"))
        if amount <= 0:
            return
        event = RefundEvent(
            source="shopify",
            source_id=f"r{sum(len(o.refunds) for o in self.orders) + 1}",
            order_source_id=order.order_id,
            amount=amount,
            processed_at=max(self.now, order.processed_at),
        )
        order.refunds.append(event)
        self.send(event, deliver)
        if with_snapshot:  # Shopify also sends orders/updated with the refund on it
            self.send(self.snapshot(order), deliver)

    @precondition(lambda self: self.queue)
    @rule(index=st.integers(0, 10_000))
    def deliver_queued(self, index: int) -> None:
        self.apply(self.queue.pop(index % len(self.queue)))

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 10_000))
    def duplicate(self, index: int) -> None:
        event = self.delivered[index % len(self.delivered)]
        before = self.session.scalar(select(func.count(LedgerTransaction.id)))
        self.apply(event)
        # A re-delivery changes nothing in the ledger (maturity/expiry were already current at this instant).
        assert self.session.scalar(select(func.count(LedgerTransaction.id))) == before

    @rule(customer=st.sampled_from(CUSTOMERS), points=st.integers(1, 800))
    def spend(self, customer: str, points: int) -> None:
        member = self.member_of(self.survivor(customer))
        if member is None or member.points_available <= 0:
            return
        self.spends += 1
        spending.spend(
            self.session,
            member,
            min(points, member.points_available),
            source="pos",
            source_id=f"s{self.spends}",
            now=self.now,
        )

    @rule(days=st.sampled_from([1, 7, 15, 40, 200, 366, 400]))
    def clock_jump(self, days: int) -> None:
        self.now += timedelta(days=days)
        refresh_shop(self.session, self.shop, self.now)

    @rule(merged=st.sampled_from(CUSTOMERS), surviving=st.sampled_from(CUSTOMERS))
    def merge(self, merged: str, surviving: str) -> None:
        merged, surviving = self.survivor(merged), self.survivor(surviving)
        if merged == surviving:
            return
        apply_merge(
            self.session,
            self.shop,
            CustomerMergeEvent(surviving_id=surviving, merged_ids=(merged,)),
            now=self.now,
        )
        self.alias[merged] = surviving

    # -- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def consistent(self) -> None:
        """Checked after every step."""
        self.ledger_is_consistent()
        self.members_are_current()

    def ledger_is_consistent(self) -> None:
        """Books balance, cached balances and lots agree with the postings, keys are used once, and
        available points are negative only under the allow_negative policy (and then flagged)."""
        rows = self.session.execute(
            select(LedgerPosting.member_id, LedgerPosting.account, func.sum(LedgerPosting.points))
            .where(LedgerPosting.shop_id == self.shop.id)
            .group_by(LedgerPosting.member_id, LedgerPosting.account)
        ).all()
        assert sum(total for _, _, total in rows) == 0
        sums = {(m, a): total for m, a, total in rows if m is not None}
        # Every transaction balances on its own (only the new ones need looking at).
        new = self.session.execute(
            select(LedgerPosting.transaction_id, func.sum(LedgerPosting.points))
            .where(LedgerPosting.transaction_id > self.checked_txn)
            .group_by(LedgerPosting.transaction_id)
        ).all()
        assert all(total == 0 for _, total in new)
        self.checked_txn = max([self.checked_txn, *(txn for txn, _ in new)])
        lots_by_member: dict[int, list[PointLot]] = {}
        for lot in self.session.scalars(select(PointLot).where(PointLot.shop_id == self.shop.id)):
            lots_by_member.setdefault(lot.member_id, []).append(lot)
        members = list(self.session.scalars(select(Member).where(Member.shop_id == self.shop.id)))
        self.members_seen = members
        for member in members:
            for account in ("pending", "available", "held"):
                assert getattr(member, f"points_{account}") == sums.get((member.id, account), 0), (
                    member.id,
                    account,
                )
            lots = lots_by_member.get(member.id, [])
            assert sum(lot.pending for lot in lots) == member.points_pending
            assert sum(lot.remaining for lot in lots) - member.points_debt == member.points_available
            assert all(lot.pending >= 0 and lot.remaining >= 0 for lot in lots)
            assert all(lot.remaining == 0 and lot.pending == 0 for lot in lots if lot.expired_at is not None)
            if member.points_available < 0:
                assert self.policy == "allow_negative"
                assert member.points_flag == "negative_balance"
                assert member.points_debt == -member.points_available
        # At most one earn per order, one reversal per refund id (of a real refund), one maturity and one
        # expiry per lot.
        keys = self.session.execute(
            select(LedgerTransaction.kind, LedgerTransaction.source_id, func.count())
            .where(
                LedgerTransaction.shop_id == self.shop.id,
                LedgerTransaction.kind.in_(["earn", "refund_reversal", "expire", "mature"]),
            )
            .group_by(LedgerTransaction.kind, LedgerTransaction.source_id)
        ).all()
        assert all(n == 1 for _, _, n in keys)
        refund_ids = {r.source_id for o in self.orders for r in o.refunds}
        assert {sid for kind, sid, _ in keys if kind == "refund_reversal"} <= refund_ids

    def members_are_current(self) -> None:
        """For each member changed by the step (or all after a clock jump): every order's points are
        f(its state, the rank held before it), the rank is f(history, rules), and replaying is a no-op."""
        rules = load_rules(self.shop)
        for member in self.members_seen:
            if member.status != "active":
                continue
            if self.verified.get(member.id) == (member.sync_version, self.now):
                continue  # unchanged rows and the same clock: verified already
            purchases = member_purchases(self.session, member)
            refunds = refunds_by_purchase(self.session, purchases)
            facts = [to_fact(p, refunds.get(p.id, [])) for p in purchases]
            posted = dict(
                self.session.execute(
                    select(LedgerTransaction.purchase_id, func.sum(LedgerPosting.points))
                    .join(LedgerPosting)
                    .where(
                        LedgerPosting.account == "issued",
                        LedgerTransaction.purchase_id.in_([p.id for p in purchases]),
                    )
                    .where(LedgerTransaction.kind.in_(["earn", "refund_reversal", "cancel"]))
                    .group_by(LedgerTransaction.purchase_id)
                ).all()
            )
            for purchase, fact in zip(purchases, facts, strict=True):
                tier = held_before(
                    facts, rules.ranks, rules.points.rate, purchase.processed_at, TZ, rank_floor(member)
                )
                assert purchase.points == order_points(fact.net, purchase.earn_rate, tier.multiplier)
                assert -posted.get(purchase.id, 0) == purchase.points
            assert member.rank == held_now(facts, rules.ranks, rules.points.rate, self.now, TZ).handle
            # Recomputing everything about the member changes nothing: postings, balances, rank, sync.
            state = (member.rank, member.points_pending, member.points_available, member.sync_version)
            last = self.session.scalar(select(func.max(LedgerTransaction.id)))
            assert not rebuild_members(self.session, self.shop, [member.id], self.now)
            assert (member.rank, member.points_pending, member.points_available, member.sync_version) == state
            assert self.session.scalar(select(func.max(LedgerTransaction.id))) == last
            self.verified[member.id] = (member.sync_version, self.now)

    def teardown(self) -> None:
        try:
            if not hasattr(self, "session"):
                return
            # Deliver whatever is still in flight, then every order must be worth f(its final state).
            while self.queue:
                self.apply(self.queue.pop(0))
            self.verified.clear()
            self.consistent()
            self.check_final_state()
        finally:
            self.session.remove()
            self.outer.rollback()
            self.connection.close()
            self.ctx.pop()

    def check_final_state(self) -> None:
        rules = load_rules(self.shop)
        groups: dict[str, list[OrderModel]] = {}
        for order in self.orders:
            groups.setdefault(self.survivor(order.customer), []).append(order)
        for orders in groups.values():
            facts = [
                PurchaseFact(
                    ref=f"shopify:{o.order_id}",
                    processed_at=o.processed_at,
                    gross=o.gross,
                    channel="online",
                    cancelled=o.cancelled,
                    refunds=tuple(RefundFact(r.amount, r.processed_at) for r in o.refunds),
                )
                for o in orders
            ]
            for order, fact in zip(orders, facts, strict=True):
                tier = held_before(facts, rules.ranks, rules.points.rate, order.processed_at, TZ)
                expected = order_points(fact.net, rules.points.rate, tier.multiplier)
                stored = self.session.scalar(select(Purchase).where(Purchase.source_id == order.order_id))
                assert stored is not None
                assert stored.points == expected, (order.order_id, stored.points, expected)


@pytest.fixture(scope="module")
def machine_app(app):
    """PostgreSQL runs use the suite's database; SQLite runs an in-memory one (the machine is write-heavy)."""
    if backend() == "postgres":
        yield app
        return
    env = dict(TEST_ENV, DATABASE_URL="sqlite://")
    memory_app = create_app(load_settings(env), overrides={"TESTING": True})
    with memory_app.app_context():
        db.create_all()
    yield memory_app
    with memory_app.app_context():
        db.engine.dispose()


def machine_settings() -> settings:
    """The loaded profile (`ci`: 200 examples) on SQLite; on PostgreSQL a smaller confirmation run.

    Every step is a few dozen round trips, so PostgreSQL confirms the same behaviour with fewer examples
    (TSUNAGU_PG_MACHINE_EXAMPLES, default 25) while SQLite in memory carries the 200.
    """
    examples = settings.default.max_examples
    if backend() == "postgres":
        examples = min(examples, int(os.environ.get("TSUNAGU_PG_MACHINE_EXAMPLES", "25")))
    return settings(stateful_step_count=50, max_examples=examples)


@pytest.mark.timeout(1800)  # 200 examples x up to 50 steps: minutes on a busy machine
def test_ledger_state_machine(machine_app):
    LedgerMachine.flask_app = machine_app
    run_state_machine_as_test(LedgerMachine, settings=machine_settings())


@pytest.mark.parametrize("policy", ["allow_negative", "claw_back_pending"])
def test_refund_after_spend_follows_policy_example(app, policy):
    """A concrete walk through the machine: earn, mature, spend everything, then a full refund."""
    LedgerMachine.flask_app = app
    machine = LedgerMachine()
    try:
        machine.configure(policy=policy, expiry_mode="last_activity", downgrade="immediate")
        machine.new_order("c1", 10000, 0, True)
        machine.new_order("c1", 5000, 0, True)
        machine.clock_jump(15)
        machine.spend("c1", 150)
        machine.refund(0, Decimal("1"), True, False)
        member = machine.member_of("c1")
        assert member is not None
        if policy == "allow_negative":
            assert (member.points_available, member.points_flag) == (-100, "negative_balance")
        else:
            assert member.points_available == 0 and member.points_flag == "refund_writeoff"
        machine.consistent()
    finally:
        machine.teardown()
