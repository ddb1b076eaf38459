"""The stored rows a chunk of order events needs, read set-based, and the chunk's result written back.

Used by app/points/ingest/orders.py: purchases by order id, refund ids already known, refunds still waiting
for their order, cached store names; then new and changed purchases and refunds as multi-row statements.
Lookups go by `source` and slices of ids, so every statement uses the unique indexes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.domain.channels import ChannelInfo
from app.domain.events import PurchaseEvent
from app.members.bulk import IN_LIMIT, NewMember
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop, ShopLocation

MemberRef = int | NewMember  # a stored member's id, or one created at the end of the chunk
Key = tuple[str, str]  # (source, source id)
# What an install fills from nothing; PostgreSQL plans the chunk lookups from these tables' statistics.
GROWING = "members, purchases, purchase_refunds, ledger_transactions, ledger_postings, point_lots"
SNAPSHOT = (
    "channel",
    "location_key",
    "location_name",
    "currency",
    "gross_amount",
    "items_count",
    "processed_at",
    "source_updated_at",
    "cancelled",
    "cancelled_at",
    "discount_codes",
)


@dataclass(slots=True, eq=False)
class PurchaseRow:
    """A purchase as the chunk sees it: stored (`id`) or new, and whether its snapshot changed."""

    values: dict[str, Any]
    member: MemberRef
    id: int | None = None
    changed: bool = False


@dataclass(slots=True, eq=False)
class RefundRow:
    """A refund new to the database (`values`), or a stored one whose order was unknown (`id`)."""

    values: dict[str, Any] | None
    purchase: PurchaseRow | None
    id: int | None = None


def member_id(member: MemberRef) -> int:
    if isinstance(member, NewMember):
        assert member.id is not None, "new members are inserted before the rows that name them"
        return member.id
    return member


def _by_source(keys: set[Key]) -> Iterator[tuple[str, list[str]]]:
    """(source, a slice of its ids) for IN lists of a bounded size."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for source, source_id in sorted(keys):
        grouped[source].append(source_id)
    for source, ids in grouped.items():
        for start in range(0, len(ids), IN_LIMIT):
            yield source, ids[start : start + IN_LIMIT]


def stored_purchases(session: Session, shop: Shop, keys: set[Key]) -> dict[Key, PurchaseRow]:
    """The stored purchases of these orders, with what a new snapshot reads of them."""
    found = {}
    for source, ids in _by_source(keys):
        rows = session.execute(
            select(
                Purchase.member_id,
                Purchase.id,
                Purchase.source_id,
                Purchase.source_updated_at,
                Purchase.location_key,
                Purchase.location_name,
                Purchase.cancelled_at,
            ).where(Purchase.shop_id == shop.id, Purchase.source == source, Purchase.source_id.in_(ids))
        )
        for owner, pid, source_id, updated_at, location_key, location_name, cancelled_at in rows:
            values = {
                "source_updated_at": updated_at,
                "location_key": location_key,
                "location_name": location_name,
                "cancelled_at": cancelled_at,
            }
            found[(source, source_id)] = PurchaseRow(values, owner, pid)
    return found


def known_refunds(session: Session, shop: Shop, keys: set[Key]) -> set[Key]:
    """Which of these refund ids are stored already."""
    known: set[Key] = set()
    for source, ids in _by_source(keys):
        found = session.scalars(
            select(PurchaseRefund.source_id).where(
                PurchaseRefund.shop_id == shop.id,
                PurchaseRefund.source == source,
                PurchaseRefund.source_id.in_(ids),
            )
        )
        known |= {(source, sid) for sid in found}
    return known


def waiting_refunds(session: Session, shop: Shop, order_keys: set[Key]) -> dict[Key, list[RefundRow]]:
    """Stored refunds of these orders that arrived before their order (no purchase yet), by order."""
    waiting: dict[Key, list[RefundRow]] = defaultdict(list)
    for source, ids in _by_source(order_keys):
        rows = session.execute(
            select(PurchaseRefund.id, PurchaseRefund.order_source_id)
            .where(
                PurchaseRefund.shop_id == shop.id,
                PurchaseRefund.source == source,
                PurchaseRefund.order_source_id.in_(ids),
                PurchaseRefund.purchase_id.is_(None),
            )
            .order_by(PurchaseRefund.id)
        )
        for refund_id, order_id in rows:
            waiting[(source, order_id)].append(RefundRow(None, None, refund_id))
    return waiting


def location_names(session: Session, shop: Shop, orders: list[PurchaseEvent]) -> dict[str, str | None]:
    """The cached rows of the Shopify locations these orders name (app/shops/locations.py)."""
    ids = {("", str(e.location_id)[:32]) for e in orders if e.source == "shopify" and e.location_id}
    names: dict[str, str | None] = {}
    for _source, chunk in _by_source(ids):
        rows = session.execute(
            select(ShopLocation.location_id, ShopLocation.name).where(
                ShopLocation.shop_id == shop.id, ShopLocation.location_id.in_(chunk)
            )
        )
        names.update((lid, name) for lid, name in rows)
    return names


def write_rows(
    session: Session,
    shop: Shop,
    now: datetime,
    purchases: dict[Key, PurchaseRow],
    refunds: list[RefundRow],
    new_locations: dict[str, str | None],
) -> None:
    """Locations, purchases and refunds as multi-row statements (the members are inserted already).

    Core inserts: the ORM's bulk insert splits rows by which values are None (one statement per run of alike
    rows). No RETURNING: SQLite cannot return ids in parameter order from one multi-row insert, and reading
    them back by order id is one indexed statement.
    """
    if new_locations:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(ShopLocation.__table__).on_conflict_do_nothing(
            index_elements=["shop_id", "location_id"]
        )
        values = [
            {"shop_id": shop.id, "location_id": lid, "name": name, "created_at": now}
            for lid, name in new_locations.items()
        ]
        session.execute(stmt, values)
    changed = [row for row in purchases.values() if row.changed and row.id is not None]
    fresh = {key: row for key, row in purchases.items() if row.id is None}
    if fresh:
        rows = [{**row.values, "member_id": member_id(row.member)} for row in fresh.values()]
        session.execute(insert(Purchase.__table__), rows)
        for (source, source_id), row in stored_purchases(session, shop, set(fresh)).items():
            fresh[(source, source_id)].id = row.id
    if changed:
        snapshots = [{"id": row.id, **{k: row.values[k] for k in SNAPSHOT}} for row in changed]
        session.execute(update(Purchase), snapshots)
    new_refunds = [
        {**r.values, "purchase_id": r.purchase.id if r.purchase else None}
        for r in refunds
        if r.values is not None
    ]
    if new_refunds:
        session.execute(insert(PurchaseRefund.__table__), new_refunds)
    attached = [
        {"id": r.id, "purchase_id": r.purchase.id}
        for r in refunds
        if r.id is not None and r.purchase is not None
    ]
    if attached:
        session.execute(update(PurchaseRefund), attached)


def take_snapshot(values: dict[str, Any], event: PurchaseEvent, info: ChannelInfo, name: str | None) -> None:
    """The order's newest state onto its row, as app/points/purchases.py `_take_snapshot` does."""
    values.update(
        channel=info.channel,
        location_key=info.location_key,
        location_name=name,
        currency=event.currency,
        gross_amount=event.gross_amount,
        items_count=event.items_count,
        processed_at=event.processed_at,
        source_updated_at=event.source_updated_at,
        cancelled=event.cancelled,
        discount_codes=list(event.discount_codes),
    )
    # Cancellation instant: the order's own, else the first snapshot's time that says so.
    if not event.cancelled:
        values["cancelled_at"] = None
    elif event.cancelled_at is not None:
        values["cancelled_at"] = event.cancelled_at
    elif values["cancelled_at"] is None:
        values["cancelled_at"] = event.source_updated_at


def refresh_statistics(session: Session) -> bool:
    """PostgreSQL: ANALYZE the tables an install fills; False if the server refused (rolled back).

    An install grows these tables from nothing faster than autovacuum re-analyses them (and some servers run
    without it); a plan made for an empty table answers each chunk's IN lookup by filtering every row of the
    shop, so the import slows down as it goes. Call it after a commit: a refusal rolls the session back.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    try:
        session.execute(text(f"ANALYZE {GROWING}"))
    except SQLAlchemyError:  # not the tables' owner, say: the import goes on with the plans it has
        session.rollback()
        return False
    return True
