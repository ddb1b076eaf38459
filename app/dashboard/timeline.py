"""A member's timeline for staff: purchases, refunds, points and ranks at their dates, newest first, a page
at a time, with the history from before the install folded into one summary entry.

Every entry has a key (at, seq): `at` is when it happened in the world and `seq` is the row id times
`SEQ_STRIDE` plus a code for its table, so keys are unique and totally ordered across tables. Pages are
cut on that key (keyset paging): each table is read through its (member, time) index, at most one page
plus one row, whatever the length of the member's history.

The imported history is everything before a boundary key: the shop's install instant, or just after the
member's latest opening balance (carried over from the previous point system) when that is later. One
boundary instead of a list of kinds keeps both views contiguous in time, so a page's running balance is
always the previous entry's balance plus this entry's change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, null, or_, select, true, union_all
from sqlalchemy.orm import Session

from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import Member
from app.models.purchase import Purchase, PurchaseRefund
from app.models.rank import RankSnapshot
from app.models.shop import Shop
from app.models.types import Money

PAGE_SIZE = 25
SEQ_STRIDE = 8
LEDGER, PURCHASE, REFUND, RANK, FLOOR = range(5)
RECENT, IMPORTED = "recent", "imported"
MEMBER_ACCOUNTS = ("pending", "available")  # "held" is a reservation of available points, not a change
REVERSALS = ("refund_reversal", "cancel", "bonus_reversal", "bonus_cancel")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Key = tuple[datetime, int]


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to the member, on any channel."""

    at: datetime
    seq: int
    kind: str  # purchase | refund | points | rank | floor
    channel: str | None = None  # online | pos | external_pos | app | other (purchases, refunds)
    store: str | None = None
    amount: Decimal | None = None
    available: int = 0  # change to the spendable points
    pending: int = 0  # change to the points still inside the return window
    label: str = ""  # ledger kind, rank handle, order reference...
    detail: str | None = None  # staff reason, previous rank, "cancelled"
    balance: int | None = None  # spendable points right after this entry

    @property
    def key(self) -> Key:
        return (self.at, self.seq)


@dataclass(frozen=True)
class ImportedSummary:
    """Totals of the history before the install, shown as one entry."""

    purchases: int
    net_amount: Decimal
    earned: int
    reversed: int
    expired: int
    opening: int
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True)
class TimelinePage:
    """One page of one view (recent or imported), with cursors to the neighbouring pages."""

    period: str
    entries: list[TimelineEntry]
    newer: str | None  # cursor for the page before this one (None: this is the newest page)
    older: str | None  # cursor for the page after this one (None: nothing older in this view)
    imported: ImportedSummary | None  # None: the member has no history before the install


def encode_cursor(key: Key) -> str:
    """A key as a short URL-safe token: microseconds since the epoch, then seq."""
    at, seq = key
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{seq}"


def decode_cursor(token: str | None) -> Key | None:
    """The key of a cursor token, or None for a missing or malformed one (the view starts over)."""
    if not token:
        return None
    micros, _, seq = token.partition(".")
    try:
        return (_EPOCH + timedelta(microseconds=int(micros)), int(seq))
    except (ValueError, OverflowError):
        return None


def page(
    session: Session,
    shop: Shop,
    member: Member,
    *,
    period: str = RECENT,
    before: Key | None = None,
    after: Key | None = None,
    size: int = PAGE_SIZE,
) -> TimelinePage:
    """The page of `period` older than `before`, or newer than `after`, or the newest one."""
    boundary = _boundary(session, shop, member)
    newest_first = after is None
    rows = _stream(session, shop, member, period, boundary, before, after, size)
    more = len(rows) > size
    rows = rows[:size]
    if not newest_first:
        rows.reverse()
    entries = [_entry(row) for row in rows]
    summary, balance = _totals(session, shop, member, boundary, entries[0].key if entries else None)
    if balance is not None:
        entries = _with_balances(entries, balance)
    if newest_first:
        newer = encode_cursor(entries[0].key) if entries and before is not None else None
        older = encode_cursor(entries[-1].key) if entries and more else None
    else:
        newer = encode_cursor(entries[0].key) if entries and more else None
        older = encode_cursor(entries[-1].key) if entries else None
    return TimelinePage(period, entries, newer, older, summary)


def _with_balances(entries: list[TimelineEntry], top: int) -> list[TimelineEntry]:
    out, balance = [], top
    for entry in entries:
        out.append(replace(entry, balance=balance))
        balance -= entry.available
    return out


def _boundary(session: Session, shop: Shop, member: Member) -> Key:
    """The first key of the recent view: the install, or just after a later opening balance."""
    opening = session.execute(
        select(LedgerTransaction.effective_at, LedgerTransaction.id)
        .where(LedgerTransaction.member_id == member.id)
        .where(LedgerTransaction.kind == "opening")
        .order_by(LedgerTransaction.effective_at.desc(), LedgerTransaction.id.desc())
        .limit(1)
    ).first()
    install: Key = (shop.installed_at, 0)
    if opening is None:
        return install
    return max(install, (opening[0], opening[1] * SEQ_STRIDE + LEDGER + 1))


def below(at: Any, seq: Any, key: Key) -> ColumnElement[bool]:
    """(at, seq) < key, written so that the `at <= ...` half uses the (member, time) indexes."""
    return and_(at <= key[0], or_(at < key[0], seq < key[1]))


def above(at: Any, seq: Any, key: Key) -> ColumnElement[bool]:
    """(at, seq) > key."""
    return and_(at >= key[0], or_(at > key[0], seq > key[1]))


def _window(
    stmt: Select[*tuple[Any, ...]], period: str, boundary: Key, before: Key | None, after: Key | None
) -> Select[*tuple[Any, ...]]:
    """One table's slice: its period, the cursor, and its own order (so it reads its index)."""
    at, seq = stmt.selected_columns.at, stmt.selected_columns.seq
    stmt = stmt.where(below(at, seq, boundary) if period == IMPORTED else ~below(at, seq, boundary))
    if before is not None:
        stmt = stmt.where(below(at, seq, before))
    if after is not None:
        return stmt.where(above(at, seq, after)).order_by(at.asc(), seq.asc())
    return stmt.order_by(at.desc(), seq.desc())


def _earned(account: str) -> Any:
    """What the outer query's purchase earned on one member account, read through the purchase's earn
    transactions (their purchase index) rather than the member's postings."""
    return (
        select(func.coalesce(func.sum(LedgerPosting.points), 0))
        .select_from(LedgerTransaction)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.purchase_id == Purchase.id, LedgerTransaction.kind == "earn")
        .where(LedgerPosting.account == account)
        .scalar_subquery()
    )


def _row(at: Any, seq: Any, kind: str, **values: Any) -> list[Any]:
    """The timeline's columns for one table, in union order (a missing value is a typed NULL)."""
    blanks = {"channel": null(), "store": null(), "amount": null().cast(Money), "available": literal(0)}
    blanks |= {"pending": literal(0), "label": null(), "detail": null()}
    return [at.label("at"), seq.label("seq"), literal(kind).label("kind")] + [
        values.get(name, blank).label(name) for name, blank in blanks.items()
    ]


def _stream(
    session: Session,
    shop: Shop,
    member: Member,
    period: str,
    boundary: Key,
    before: Key | None,
    after: Key | None,
    size: int,
) -> list[Any]:
    """At most size + 1 rows of the timeline, in the direction of the cursor."""
    tx, bought = LedgerTransaction, Purchase
    # Month-end snapshots repeat the rank; only the changes are events.
    snaps = (
        select(RankSnapshot.id, RankSnapshot.taken_at, RankSnapshot.rank)
        .add_columns(func.lag(RankSnapshot.rank).over(order_by=RankSnapshot.period).label("previous"))
        .where(RankSnapshot.member_id == member.id, RankSnapshot.shop_id == shop.id)
        .subquery()
    )
    purchases = select(
        *_row(bought.processed_at, bought.id * SEQ_STRIDE + PURCHASE, "purchase", channel=bought.channel,
              store=bought.location_name, amount=bought.gross_amount, label=bought.source_id,
              available=_earned("available"), pending=_earned("pending"),
              detail=case((bought.cancelled, "cancelled"), else_=null()))
    ).where(bought.member_id == member.id)  # fmt: skip
    ledger = (
        select(*_row(tx.effective_at, tx.id * SEQ_STRIDE + LEDGER, "points", label=tx.kind, detail=tx.reason,
                     available=_member_delta(member, "available"), pending=_member_delta(member, "pending")))
        .where(tx.member_id == member.id)  # the member is the shop's: its index alone scopes the rows
        # An order's earning is shown on the purchase itself (same instant, one line instead of two).
        .where(~and_(tx.kind == "earn", tx.purchase_id.is_not(None)))
    )  # fmt: skip
    refunds = (
        select(*_row(PurchaseRefund.processed_at, PurchaseRefund.id * SEQ_STRIDE + REFUND, "refund",
                     channel=bought.channel, store=bought.location_name, amount=-PurchaseRefund.amount,
                     label=bought.source_id))
        .join(bought, bought.id == PurchaseRefund.purchase_id)
        # Through the member's purchases (their member index; the member is the shop's), not the shop's.
        .where(bought.member_id == member.id)
    )  # fmt: skip
    rank_seq = snaps.c.id * SEQ_STRIDE + RANK
    ranks = select(*_row(snaps.c.taken_at, rank_seq, "rank", label=snaps.c.rank, detail=snaps.c.previous))
    ranks = ranks.where(or_(snaps.c.previous.is_(None), snaps.c.previous != snaps.c.rank))
    floor_seq = Member.id * SEQ_STRIDE + FLOOR
    floor = select(*_row(Member.rank_floor_starts_at, floor_seq, "floor", label=Member.rank_floor))
    floor = floor.where(Member.id == member.id, Member.rank_floor.is_not(None))
    floor = floor.where(Member.rank_floor_starts_at.is_not(None))
    # Each table is cut and limited on its own (reading its index), then the pieces are merged.
    pieces = [
        select(*_window(stmt, period, boundary, before, after).limit(size + 1).subquery().c)
        for stmt in (purchases, ledger, refunds, ranks, floor)
    ]
    merged = union_all(*pieces).subquery()
    order = (merged.c.at, merged.c.seq) if after is not None else (merged.c.at.desc(), merged.c.seq.desc())
    return list(session.execute(select(merged).order_by(*order).limit(size + 1)).all())


def _member_delta(member: Member, account: str) -> Any:
    """The change the outer query's ledger transaction made to one of the member's accounts."""
    return (
        select(func.coalesce(func.sum(LedgerPosting.points), 0))
        .where(LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerPosting.member_id == member.id, LedgerPosting.account == account)
        .scalar_subquery()
    )


def _entry(row: Any) -> TimelineEntry:
    return TimelineEntry(
        at=row.at,
        seq=row.seq,
        kind=row.kind,
        channel=row.channel,
        store=row.store,
        amount=row.amount,
        available=int(row.available or 0),
        pending=int(row.pending or 0),
        label=str(row.label or ""),
        detail=row.detail,
    )


def _totals(
    session: Session, shop: Shop, member: Member, boundary: Key, top: Key | None
) -> tuple[ImportedSummary | None, int | None]:
    """One aggregate query: the imported history's totals and the spendable balance after `top`."""
    tx_seq = LedgerTransaction.id * SEQ_STRIDE + LEDGER
    # Where the timeline shows the transaction: an order's earning sits on the purchase line.
    shown_seq = case(
        (
            and_(LedgerTransaction.kind == "earn", LedgerTransaction.purchase_id.is_not(None)),
            LedgerTransaction.purchase_id * SEQ_STRIDE + PURCHASE,
        ),
        else_=tx_seq,
    )

    def points(kinds: tuple[str, ...]) -> Any:
        picked = case((LedgerTransaction.kind.in_(kinds), LedgerPosting.points), else_=0)
        return func.coalesce(func.sum(picked), 0)

    ledger = (
        select(
            points(("earn", "bonus")).label("earned"),
            (-points(REVERSALS)).label("reversed"),
            (-points(("expire",))).label("expired"),
            points(("opening",)).label("opening"),
            func.count(LedgerPosting.id).label("postings"),
            func.min(LedgerTransaction.effective_at).label("ledger_first"),
            func.max(LedgerTransaction.effective_at).label("ledger_last"),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerPosting.member_id == member.id, LedgerPosting.account.in_(MEMBER_ACCOUNTS))
        .where(LedgerTransaction.shop_id == shop.id)
        .where(below(LedgerTransaction.effective_at, tx_seq, boundary))
        .subquery()
    )
    counted = and_(
        Purchase.member_id == member.id,
        below(Purchase.processed_at, Purchase.id * SEQ_STRIDE + PURCHASE, boundary),
    )
    purchases = (
        select(
            func.count(Purchase.id).label("purchases"),
            func.coalesce(func.sum(case((Purchase.cancelled, 0), else_=Purchase.gross_amount)), 0).label(
                "gross"
            ),
            func.sum(case((Purchase.cancelled, 1), else_=0)).label("cancelled"),
            func.min(Purchase.processed_at).label("purchase_first"),
            func.max(Purchase.processed_at).label("purchase_last"),
        )
        .where(counted)
        .subquery()
    )
    refunds = (
        select(func.coalesce(func.sum(PurchaseRefund.amount), 0).label("refunded"))
        .join(Purchase, Purchase.id == PurchaseRefund.purchase_id)
        .where(Purchase.member_id == member.id)
        .where(Purchase.cancelled.is_(False))
        .where(below(PurchaseRefund.processed_at, PurchaseRefund.id * SEQ_STRIDE + REFUND, boundary))
        .subquery()
    )
    balance_expr: Any = literal(None)
    if top is not None:
        balance_expr = (
            select(func.coalesce(func.sum(LedgerPosting.points), 0))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
            .where(LedgerPosting.member_id == member.id, LedgerPosting.account == "available")
            .where(LedgerTransaction.shop_id == shop.id)
            .where(~above(LedgerTransaction.effective_at, shown_seq, top))
            .scalar_subquery()
        )
    row = session.execute(
        select(ledger, purchases, refunds, balance_expr.label("balance")).select_from(
            ledger.join(purchases, true()).join(refunds, true())
        )
    ).one()
    balance = None if top is None else int(row.balance)
    if not row.purchases and not row.postings:
        return None, balance
    firsts = [d for d in (row.ledger_first, row.purchase_first) if d is not None]
    lasts = [d for d in (row.ledger_last, row.purchase_last) if d is not None]
    summary = ImportedSummary(
        purchases=int(row.purchases) - int(row.cancelled or 0),
        net_amount=Decimal(row.gross) - Decimal(row.refunded),
        earned=int(row.earned),
        reversed=int(row.reversed),
        expired=int(row.expired),
        opening=int(row.opening),
        first_at=min(firsts) if firsts else None,
        last_at=max(lasts) if lasts else None,
    )
    return summary, balance
