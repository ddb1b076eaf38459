"""The books balance: the check every reliability test ends with."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models.ledger import LedgerPosting
from app.models.member import Member


def books_balance(session, shop_id: int | None = None) -> int:
    """Every posting sums to zero and each member's cached balances equal its postings; returns members seen.

    `shop_id` None checks every shop. The session's snapshot is refreshed first.
    """
    session.rollback()
    postings = select(LedgerPosting.member_id, LedgerPosting.account, func.sum(LedgerPosting.points))
    members = select(Member)
    if shop_id is not None:
        postings = postings.where(LedgerPosting.shop_id == shop_id)
        members = members.where(Member.shop_id == shop_id)
    rows = session.execute(postings.group_by(LedgerPosting.member_id, LedgerPosting.account)).all()
    assert sum(total for _, _, total in rows) == 0
    sums = {(m, a): t for m, a, t in rows if m is not None}
    seen = 0
    mismatches = []
    for member in session.scalars(members.execution_options(populate_existing=True)):
        seen += 1
        for account in ("pending", "available", "held"):
            cached = getattr(member, f"points_{account}")
            if cached != sums.get((member.id, account), 0):
                mismatches.append((member.id, account, cached, sums.get((member.id, account), 0)))
    assert mismatches == [], "cached balance != ledger: (member, account, cached, ledger)"
    return seen
