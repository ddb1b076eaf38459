"""Members of many Shopify customers at once: what is stored about a chunk's customers, read in a few
statements, and the members still missing created in one multi-row insert.

The set-based ingest of orders (app/points/ingest/orders.py) and customers (app/customers/ingest.py) resolve a
chunk of events against this index instead of one `member_for_customer` call per event. The index answers only
the cases it can answer exactly as `member_for_customer` would: a stored row, a redacted customer, and a new
customer that matches no store-only member by phone or email (then a new member is created). Anything else (a
store member to link, an ambiguous match) goes through `member_for_customer` itself, and after that the index
no longer trusts its picture of the store-only members (`dirty`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.domain.identity import email_hash, new_member_number, phone_hash
from app.members.identity import customer_hash, hash_key
from app.models.member import CustomerTombstone, Member, MemberStatus
from app.models.shop import Shop
from app.shops.rules import load_rules

IN_LIMIT = 500  # values per IN list: well inside every backend's bound-parameter limit


@dataclass(slots=True)
class NewMember:
    """A member to create at the end of the chunk; `id` is set once it is inserted."""

    shopify_customer_id: str
    phone_hash: str | None
    email_hash: str | None
    customer_updated_at: datetime | None = None
    birth_month: int | None = None  # from the customer's birthday metafield (app/members/birthdays.py)
    sync_version: int = 2  # created (1), then touched once by the contact details it was created with
    id: int | None = None


def _slices(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), IN_LIMIT):
        yield values[start : start + IN_LIMIT]


class CustomerIndex:
    """The stored members, tombstones and store-only contact hashes of a chunk's Shopify customers."""

    def __init__(self, session: Session, shop: Shop) -> None:
        self.session, self.shop = session, shop
        self.key = hash_key()
        self.rows: dict[str, Member] = {}
        self.by_id: dict[int, Member] = {}
        self.new: dict[str, NewMember] = {}
        self.tombstoned: set[str] = set()
        self.absent: set[str] = set()  # customers with no member row (and no tombstone) when loaded
        self.store_hashes: set[str] = set()
        self.dirty = False  # a member was linked or created outside the index: store_hashes may be stale

    def hashes(self, email: str | None, phone: str | None) -> tuple[str | None, str | None]:
        """(phone hash, email hash) as `remember_contact` stores them."""
        return phone_hash(self.key, self.shop.id, phone), email_hash(self.key, self.shop.id, email)

    def load(
        self,
        customers: dict[str, list[tuple[str | None, str | None]]],
        member_ids: Iterable[int] = (),
        *,
        lock: bool = False,
    ) -> None:
        """Read (and with `lock`, lock in id order) the members of these customers and of `member_ids`.

        `customers` maps each Shopify customer id to the (email, phone) pairs the chunk's events carry.
        """
        sids, ids = sorted(customers), sorted(set(member_ids))
        conditions = [Member.shopify_customer_id.in_(s) for s in _slices(sids)]
        conditions += [Member.id.in_(ids[i : i + IN_LIMIT]) for i in range(0, len(ids), IN_LIMIT)]
        if conditions:
            stmt = select(Member).where(Member.shop_id == self.shop.id, or_(*conditions)).order_by(Member.id)
            if lock:
                stmt = stmt.with_for_update()
            for member in self.session.scalars(stmt.execution_options(populate_existing=True)):
                self.by_id[member.id] = member
                if member.shopify_customer_id is not None:
                    self.rows[member.shopify_customer_id] = member
        missing = {customer_hash(self.shop, sid): sid for sid in sids if sid not in self.rows}
        for chunk in _slices(list(missing)):
            found = self.session.scalars(
                select(CustomerTombstone.customer_hash).where(
                    CustomerTombstone.shop_id == self.shop.id, CustomerTombstone.customer_hash.in_(chunk)
                )
            )
            self.tombstoned |= {missing[digest] for digest in found}
        self.absent = set(missing.values()) - self.tombstoned
        contact = {h for sid in self.absent for pair in customers[sid] for h in self.hashes(*pair) if h}
        for chunk in _slices(sorted(contact)):
            rows = self.session.execute(
                select(Member.phone_hash, Member.email_hash).where(
                    Member.shop_id == self.shop.id,
                    Member.status == MemberStatus.ACTIVE,
                    Member.shopify_customer_id.is_(None),
                    or_(Member.phone_hash.in_(chunk), Member.email_hash.in_(chunk)),
                )
            )
            self.store_hashes |= {h for pair in rows for h in pair if h}

    def members(self, ids: set[int]) -> list[Member]:
        """The rows of these members (read once more only for those this index did not load)."""
        missing = sorted(i for i in ids if i not in self.by_id)
        for start in range(0, len(missing), IN_LIMIT):
            stmt = select(Member).where(Member.id.in_(missing[start : start + IN_LIMIT]))
            self.by_id.update((m.id, m) for m in self.session.scalars(stmt))
        return [self.by_id[i] for i in sorted(ids) if i in self.by_id]

    def can_create(self, phone: str | None, email: str | None) -> bool:
        """True when `member_for_customer` would create a member for these hashes (no store-only match)."""
        return not self.dirty and not ({phone, email} & self.store_hashes)

    def create(self, sid: str, phone: str | None, email: str | None) -> NewMember:
        """Queue a new member for a customer not stored yet."""
        member = NewMember(sid, phone, email)
        self.new[sid] = member
        return member

    def forget(self, sid: str) -> None:
        """Re-read this customer's row later: a slow path changed it."""
        self.rows.pop(sid, None)

    def insert_new(self, now: datetime) -> None:
        """Create the queued members in one multi-row insert with fresh member numbers.

        A customer whose member another transaction created meanwhile (a live webhook during the install
        backfill) keeps that member, as `member_for_customer` does after its unique-constraint race.
        """
        pending = [m for m in self.new.values() if m.id is None]
        if not pending:
            return
        numbers = self._fresh_numbers(len(pending))
        rank = load_rules(self.shop).ranks.tiers[0].handle
        values = [
            {
                "shop_id": self.shop.id,
                "shopify_customer_id": m.shopify_customer_id,
                "member_number": number,
                "status": MemberStatus.ACTIVE,
                "rank": rank,
                "points_pending": 0,
                "points_available": 0,
                "points_held": 0,
                "points_debt": 0,
                "sync_version": m.sync_version,
                "line_linked": False,
                "phone_hash": m.phone_hash,
                "email_hash": m.email_hash,
                "customer_updated_at": m.customer_updated_at,
                "birth_month": m.birth_month,
                "updated_at": now,
            }
            for m, number in zip(pending, numbers, strict=True)
        ]
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(Member.__table__)
            .on_conflict_do_nothing(index_elements=["shop_id", "shopify_customer_id"])
            .returning(Member.__table__.c.id, Member.__table__.c.shopify_customer_id)
        )
        made: dict[str | None, int] = {
            row.shopify_customer_id: row.id for row in self.session.execute(stmt, values)
        }
        raced = [m.shopify_customer_id for m in pending if m.shopify_customer_id not in made]
        for chunk in _slices(raced):
            made.update(
                (row.shopify_customer_id, row.id)
                for row in self.session.execute(
                    select(Member.id, Member.shopify_customer_id).where(
                        Member.shop_id == self.shop.id, Member.shopify_customer_id.in_(chunk)
                    )
                )
            )
        for member in pending:
            member.id = made[member.shopify_customer_id]

    def _fresh_numbers(self, count: int) -> list[str]:
        """`count` member numbers free in the shop and distinct from each other (as `create_member`)."""
        chosen: set[str] = set()
        for _ in range(20):
            wanted = {new_member_number() for _ in range(count - len(chosen))} - chosen
            taken: set[str] = set()
            for chunk in _slices(sorted(wanted)):
                taken.update(
                    self.session.scalars(
                        select(Member.member_number).where(
                            Member.shop_id == self.shop.id, Member.member_number.in_(chunk)
                        )
                    )
                )
            chosen |= wanted - taken
            if len(chosen) >= count:
                return sorted(chosen)[:count]
        raise RuntimeError("could not find free member numbers")  # pragma: no cover - 10^11 per shop
