"""One way to change a balance: under the member lock, by adding to the row, never from an earlier read.

The staff page loads the member to show and check it, then adjusts; a webhook or a redemption may post to
the same member in between. Each test replays that interleaving with two sessions (real commits), on
SQLite and PostgreSQL alike, and checks the cached balance against the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.members.records import create_member, lock_member
from app.models.member import Member
from app.models.shop import Shop
from app.points import ledger, spending
from tests.reliability.books import books_balance

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _member(committed) -> tuple[int, int]:
    session = committed.session
    shop = Shop(domain="books.myshopify.com", status="installed", currency="JPY", timezone="Asia/Tokyo")
    session.add(shop)
    session.flush()
    member = create_member(session, shop, "4242")
    ids = shop.id, member.id
    session.commit()  # (reading the ids after it would begin a transaction that holds SQLite's write lock)
    return ids


def _meanwhile_plus_50(engine, member_id: int) -> None:
    """Another request credits 50 points to the member and commits."""
    with Session(engine) as other:
        member = lock_member(other, member_id)
        assert spending.adjust(other, member, 50, reason="campaign", source_id="other", now=NOW)
        other.commit()


def test_a_staff_adjustment_made_from_a_copy_loaded_earlier_keeps_the_other_posting(app, committed):
    shop_id, member_id = _member(committed)
    with Session(committed.engine, expire_on_commit=False) as page:
        shown = page.get(Member, member_id)  # the staff page shows 0 pt
        page.commit()
        _meanwhile_plus_50(committed.engine, member_id)
        assert spending.adjust(page, shown, 10, reason="correction", source_id="page", now=NOW)
        page.commit()
    assert books_balance(committed.session, shop_id) == 1
    assert committed.session.get(Member, member_id).points_available == 60
    committed.session.rollback()


def test_a_staff_debit_checks_the_balance_as_it_is_now_not_as_it_was_shown(app, committed):
    shop_id, member_id = _member(committed)
    with Session(committed.engine, expire_on_commit=False) as page:
        shown = page.get(Member, member_id)
        page.commit()
        _meanwhile_plus_50(committed.engine, member_id)
        assert spending.adjust(page, shown, -30, reason="returned gift", source_id="page", now=NOW)
        page.commit()
    books_balance(committed.session, shop_id)
    assert committed.session.get(Member, member_id).points_available == 20


def test_a_posting_adds_to_the_row_even_when_handed_a_stale_member(app, committed):
    shop_id, member_id = _member(committed)
    with Session(committed.engine, expire_on_commit=False) as late:
        stale = late.get(Member, member_id)
        late.commit()
        _meanwhile_plus_50(committed.engine, member_id)
        ledger.post(
            late, shop_id, stale, source="test", source_id="late", kind="adjust",
            legs=[("adjustment", None, -10), ("available", member_id, 10)], effective_at=NOW,
        )  # fmt: skip
        assert stale.points_available == 60  # the loaded copy learns the row's new value
        late.commit()
    books_balance(committed.session, shop_id)
