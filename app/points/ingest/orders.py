"""Set-based ingest of order snapshots and refunds: a chunk of events in a few statements, one replay.

`ingest_orders` gives exactly what `apply_purchase` / `apply_refund` give when the same events are applied
one by one in the same order (test orders and walk-ins skipped, the newest snapshot wins, each refund
recorded once per refund id, refunds that arrived before their order attached when it comes), but reads what
is stored for the whole chunk at once (purchases, refunds, members, locations), walks the events in memory,
writes the result as multi-row statements and replays every member it touched in one `rebuild_members` call.
That is what makes the install backfill and worker bursts cheap: a few statements per chunk instead of two
dozen per order, and one replay per member instead of one per order.

Buyers are resolved through app/members/bulk.py: a stored Shopify customer, a redacted one, or a new one
that matches no store member is answered from the chunk's index; anything else (a store member's code, a
phone or email alone, a customer who may be a store member) goes through `resolve_member` itself, after the
members created so far are written, so identity matching sees what it would have seen one event at a time.
The caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.channels import ChannelInfo, classify
from app.domain.events import PurchaseEvent, RefundEvent
from app.members.bulk import IN_LIMIT, CustomerIndex, NewMember
from app.members.identity import resolve_member
from app.members.records import active_member, lock_member, touch
from app.models.member import Member, MemberStatus
from app.models.shop import Shop
from app.models.types import utcnow
from app.points.engine import rebuild_members
from app.points.ingest.rows import (
    Key,
    MemberRef,
    PurchaseRow,
    RefundRow,
    known_refunds,
    location_names,
    member_id,
    stored_purchases,
    take_snapshot,
    waiting_refunds,
    write_rows,
)
from app.shops.locations import NAME_LIMIT
from app.shops.rules import load_rules

OrderEvent = PurchaseEvent | RefundEvent


def ingest_orders(
    session: Session,
    shop: Shop,
    events: Sequence[OrderEvent],
    now: datetime | None = None,
    *,
    replay: bool = True,
) -> set[int]:
    """Apply a chunk of order snapshots and refunds, in their order; returns the members it touched.

    `replay=False` stores the purchases and refunds but leaves the members' replay owed: their `next_due_at`
    is set to `now`, so `replay_members` (the install backfill's last step, see `owed_members`) or the daily
    upkeep replays them. A history loaded in many chunks then replays each member once, not once per chunk.
    """
    now = now or utcnow()
    chunk = _Chunk(session, shop, now)
    chunk.load(events)
    for event in events:
        if isinstance(event, RefundEvent):
            chunk.refund(event)
        elif not event.test:
            chunk.purchase(event)
    chunk.index.insert_new(now)
    write_rows(session, shop, now, chunk.purchases, chunk.refunds, chunk.new_locations)
    touched = {member_id(member) for member in chunk.touched}
    if touched and replay:
        replay_members(session, shop, touched, now, index=chunk.index)
    elif touched:
        ids = sorted(touched)
        for start in range(0, len(ids), IN_LIMIT):
            session.execute(
                update(Member)
                .where(Member.id.in_(ids[start : start + IN_LIMIT]))
                .values(next_due_at=now)
                .execution_options(synchronize_session=False)
            )
    return touched


def replay_members(
    session: Session, shop: Shop, ids: set[int], now: datetime, *, index: CustomerIndex | None = None
) -> None:
    """Replay the members and mark them changed: their purchase history moved even if their points did not."""
    index = index or CustomerIndex(session, shop)
    members = index.members(ids)  # held, so the rows rebuild_members refreshes stay in the session
    rebuild_members(session, shop, ids, now)
    for member in members:
        touch(member, now)
    session.flush()


def owed_members(session: Session, shop: Shop, after: int, due: datetime, limit: int) -> list[int]:
    """Active members after id `after` whose replay is owed by `due` (next_due_at), oldest id first."""
    stmt = (
        select(Member.id)
        .where(
            Member.shop_id == shop.id,
            Member.status == MemberStatus.ACTIVE,
            Member.id > after,
            Member.next_due_at <= due,
        )
        .order_by(Member.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


class _Chunk:
    """The stored state a chunk of events needs, and the events applied to it in memory."""

    def __init__(self, session: Session, shop: Shop, now: datetime) -> None:
        self.session, self.shop, self.now = session, shop, now
        self.rules = load_rules(shop)
        self.index = CustomerIndex(session, shop)
        self.purchases: dict[Key, PurchaseRow] = {}
        self.known_refunds: set[Key] = set()
        self.orphans: dict[Key, list[RefundRow]] = defaultdict(list)
        self.refunds: list[RefundRow] = []
        self.locations: dict[str, str | None] = {}
        self.new_locations: dict[str, str | None] = {}
        self.touched: list[MemberRef] = []

    def load(self, events: Sequence[OrderEvent]) -> None:
        """Read what the chunk's events need, members locked before their purchases are read."""
        orders = [e for e in events if isinstance(e, PurchaseEvent) and not e.test]
        refunds = [e for e in events if isinstance(e, RefundEvent)]
        keys: set[Key] = {(e.source, str(e.source_id)) for e in orders}
        keys |= {(r.source, str(r.order_source_id)) for r in refunds}
        contacts: dict[str, list[tuple[str | None, str | None]]] = defaultdict(list)
        for e in orders:
            if e.customer_ref is not None and e.customer_ref.shopify_customer_id:
                contacts[str(e.customer_ref.shopify_customer_id)].append(
                    (e.customer_ref.email, e.customer_ref.phone)
                )
        # Lock the members first (id order, like rebuild_members), then read their purchases under the lock.
        owners = {row.member for row in stored_purchases(self.session, self.shop, keys).values()}
        self.index.load(contacts, {m for m in owners if isinstance(m, int)}, lock=True)
        self.purchases = stored_purchases(self.session, self.shop, keys)
        refund_keys: set[Key] = {(r.source, str(r.source_id)) for r in refunds}
        refund_keys |= {(r.source, str(r.source_id)) for e in orders for r in e.refunds}
        self.known_refunds = known_refunds(self.session, self.shop, refund_keys)
        self.orphans = waiting_refunds(self.session, self.shop, keys)
        self.locations = location_names(self.session, self.shop, orders)

    def purchase(self, event: PurchaseEvent) -> None:
        """`apply_purchase` on the chunk's state."""
        key = (event.source, str(event.source_id))
        row = self.purchases.get(key)
        if row is None:
            member = self._resolve(event)
            if member is None:
                return
        else:
            member = row.member
            if not self._active(member) or event.source_updated_at <= row.values["source_updated_at"]:
                return
        info = classify(event, self.rules.channels)
        name = self._store_name(event, info, row)
        if row is None:
            values = {
                "shop_id": self.shop.id,
                "source": event.source,
                "source_id": str(event.source_id),
                "earn_rate": self.rules.points.rate,
                "points": 0,
                "points_revision": 0,
                "created_at": self.now,
                "cancelled_at": None,
            }
            row = self.purchases[key] = PurchaseRow(values, member)
        row.changed = True
        take_snapshot(row.values, event, info, name)
        for orphan in self.orphans.pop(key, []):
            orphan.purchase = row
            if orphan.id is not None:
                self.refunds.append(orphan)
        for refund in event.refunds:
            self._record(refund, row)
        self.touched.append(member)

    def refund(self, event: RefundEvent) -> None:
        """`apply_refund` on the chunk's state."""
        if (event.source, str(event.source_id)) in self.known_refunds:
            return
        key = (event.source, str(event.order_source_id))
        row = self.purchases.get(key)
        recorded = self._record(event, row)
        if row is None:
            self.orphans[key].append(recorded)
        elif self._active(row.member):
            self.touched.append(row.member)

    def _record(self, event: RefundEvent, row: PurchaseRow | None) -> RefundRow:
        key = (event.source, str(event.source_id))
        refund = RefundRow(None, row)
        if key in self.known_refunds:
            return refund
        self.known_refunds.add(key)
        refund.values = {
            "shop_id": self.shop.id,
            "source": event.source,
            "source_id": str(event.source_id),
            "order_source_id": str(event.order_source_id),
            "amount": event.amount,
            "processed_at": event.processed_at,
        }
        self.refunds.append(refund)
        return refund

    def _active(self, member: MemberRef) -> bool:
        if isinstance(member, NewMember):
            return True
        row = self.index.by_id.get(member)
        if row is None:
            row = self.index.by_id[member] = lock_member(self.session, member)
        return row.status == MemberStatus.ACTIVE

    def _resolve(self, event: PurchaseEvent) -> MemberRef | None:
        """`resolve_member` for the buyer, answered from the index where it can be."""
        ref = event.customer_ref
        if ref is None or ref.is_empty:
            return None
        sid = str(ref.shopify_customer_id) if ref.shopify_customer_id else None
        if sid is not None:
            index = self.index
            if sid in index.new:
                return index.new[sid]
            stored = index.rows.get(sid)
            if stored is not None:
                if stored.status == MemberStatus.ACTIVE:
                    return stored.id
                survivor = active_member(self.session, stored)  # merged: the survivor's, deleted: none
                return None if survivor is None else self._known(lock_member(self.session, survivor.id))
            if sid in index.tombstoned:
                return None
            if sid in index.absent:
                phone, email = index.hashes(ref.email, ref.phone)
                if index.can_create(phone, email):
                    return index.create(sid, phone, email)
        # Identity matching reads the members table: the members created so far must be in it.
        self.index.insert_new(self.now)
        found = resolve_member(self.session, self.shop, event.source, ref)
        self.index.dirty = True
        if found is None:
            return None
        if sid is not None:
            self.index.rows[sid] = found
            self.index.absent.discard(sid)
        return self._known(lock_member(self.session, found.id))

    def _known(self, member: Member) -> int:
        self.index.by_id[member.id] = member
        return member.id

    def _store_name(self, event: PurchaseEvent, info: ChannelInfo, row: PurchaseRow | None) -> str | None:
        """The store's name as `apply_purchase` gives it (`location_name` on the chunk's cache)."""
        name = info.location_name
        if event.source == "shopify" and event.location_id and info.location_key:
            location_id = str(event.location_id)[:32]
            seen = name[:NAME_LIMIT] if name else None
            if location_id in self.locations:
                name = self.locations[location_id] or seen
            else:
                self.locations[location_id] = self.new_locations[location_id] = name = seen
        if name is None and row is not None and row.values["location_key"] == info.location_key:
            name = row.values["location_name"]
        return name
