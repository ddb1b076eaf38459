"""Whatever order Shopify delivers an order's events in, the final state is the in-order one."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select

from app.dispatch import dispatch
from app.jobs.worker import Worker, WorkerConfig
from app.models import InboxEvent, LedgerPosting, Member, Purchase, PurchaseRefund
from tests.integration.webhooks.support import later, order_body, post, refund_body


def events(order_id: int, customer_id: int) -> dict[str, tuple[str, dict]]:
    """create -> paid -> updated (an edit) -> partial refund -> full refund, as Shopify sends them."""
    edited = order_body(order_id, "18000", customer_id=customer_id, updated_at=later(20))
    return {
        "create": (
            "orders/create",
            order_body(order_id, "20000", customer_id=customer_id, financial_status="pending"),
        ),
        "paid": ("orders/paid", order_body(order_id, "20000", customer_id=customer_id, updated_at=later(10))),
        "updated": ("orders/updated", edited),
        "partial_refund": ("refunds/create", refund_body(order_id * 10 + 1, order_id, "4000", at=later(30))),
        "full_refund": ("refunds/create", refund_body(order_id * 10 + 2, order_id, "14000", at=later(40))),
    }


def final_state(session, order_id: int, customer_id: int) -> tuple:
    purchase = session.scalars(select(Purchase).where(Purchase.source_id == str(order_id))).one()
    member = session.scalars(select(Member).where(Member.shopify_customer_id == str(customer_id))).one()
    refunds = sorted(
        (r.source_id[-1], r.amount)
        for r in session.scalars(select(PurchaseRefund).where(PurchaseRefund.purchase_id == purchase.id))
    )
    postings = session.execute(
        select(LedgerPosting.account, func.sum(LedgerPosting.points))
        .where(LedgerPosting.member_id == member.id)
        .group_by(LedgerPosting.account)
        .order_by(LedgerPosting.account)
    ).all()
    return (
        purchase.gross_amount,
        purchase.points,
        refunds,
        member.points_pending,
        member.points_available,
        member.rank,
        [tuple(p) for p in postings if p[1]],  # accounts that net to zero hold nothing
    )


def test_every_permutation_ends_in_the_in_order_state(app, client, session, shop):
    names = ["create", "paid", "updated", "partial_refund", "full_refund"]
    orders = list(itertools.permutations(names))
    assert len(orders) == 120
    worker = Worker(app, WorkerConfig(idle_sleep=0, batch_size=50), worker_id="perm", handle=dispatch)
    # Reference: in order, one delivery at a time (each processed before the next arrives).
    for name in names:
        topic, body = events(1, 9001)[name]
        assert post(client, topic, body).status_code == 200
        worker.run(once=True)
    reference = final_state(session, 1, 9001)
    # Each permutation on its own order and customer, delivered in that order, processed in one drain.
    for index, permutation in enumerate(orders, start=2):
        for name in permutation:
            topic, body = events(index, 9000 + index)[name]
            assert post(client, topic, body).status_code == 200
    worker.run(once=True)
    assert session.scalar(select(func.count()).where(InboxEvent.status != "done")) == 0
    for index, permutation in enumerate(orders, start=2):
        assert final_state(session, index, 9000 + index) == reference, permutation
    gross, points, refunds, *_ = reference
    assert (gross, points, [a for _, a in refunds]) == (18000, 0, [4000, 14000])
