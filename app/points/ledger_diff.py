"""Bring the stored ledger and lots of a chunk of members to what their replay says, by difference.

Derived transactions are matched by their key (source, source id, kind): one that is the same is left alone
(its `created_at` keeps when the app first recorded it), one that changed is rewritten in place, one the
replay no longer implies is removed, a new one is inserted. Movements people made (spends, staff
adjustments, holds, opening balances) are never touched here. All writes of a chunk go out as a few
multi-row statements at the end (`Diff.write`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.domain.lots import Lot
from app.domain.replay import DERIVED_KINDS, Entry, Outcome
from app.models.ledger import LedgerPosting, LedgerTransaction, PointLot

# Kinds a replay re-derives; `earn_adjust` was written by earlier versions and is replaced by the rewritten
# `earn`, so it is removed on a member's first replay.
REDERIVED = DERIVED_KINDS | {"earn_adjust"}
LegKey = tuple[tuple[str, int | None, int], ...]
LOT_FIELDS = (
    "purchase_id",
    "earned_at",
    "matures_at",
    "pending",
    "remaining",
    "matured_at",
    "expired_at",
    "points_expired",
    "expires_at",
)


@dataclass(slots=True)
class _Stored:
    """What is stored for one member."""

    txns: dict[tuple[str, str, str], tuple[int, datetime, str | None, int | None, LegKey]] = field(
        default_factory=dict
    )
    lots: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_stored(session: Session, ids: list[int]) -> dict[int | None, _Stored]:
    """The members' derived transactions (with legs) and lots, in three statements."""
    stored: dict[int | None, _Stored] = defaultdict(_Stored)
    legs: dict[int, list[tuple[str, int | None, int]]] = defaultdict(list)
    posting_rows = session.execute(
        select(
            LedgerPosting.transaction_id, LedgerPosting.account, LedgerPosting.member_id, LedgerPosting.points
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.member_id.in_(ids), LedgerTransaction.kind.in_(REDERIVED))
    )
    for txn_id, account, member_id, points in posting_rows:
        legs[txn_id].append((account, member_id, points))
    txn_rows = session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.member_id,
            LedgerTransaction.source,
            LedgerTransaction.source_id,
            LedgerTransaction.kind,
            LedgerTransaction.effective_at,
            LedgerTransaction.reason,
            LedgerTransaction.purchase_id,
        ).where(LedgerTransaction.member_id.in_(ids), LedgerTransaction.kind.in_(REDERIVED))
    )
    for txn_id, member_id, source, source_id, kind, at, reason, purchase_id in txn_rows:
        stored[member_id].txns[(source, source_id, kind)] = (
            txn_id,
            at,
            reason,
            purchase_id,
            tuple(sorted(legs.get(txn_id, []))),
        )
    lot_columns = [PointLot.id, PointLot.member_id, PointLot.key, *(getattr(PointLot, f) for f in LOT_FIELDS)]
    for row in session.execute(select(*lot_columns).where(PointLot.member_id.in_(ids))):
        values = row._asdict()
        stored[values["member_id"]].lots[values["key"]] = values
    return stored


def _legs(entry: Entry, member_id: int) -> LegKey:
    merged: dict[tuple[str, int | None], int] = defaultdict(int)
    for account, mine, points in entry.legs:
        merged[(account, member_id if mine else None)] += points
    return tuple(sorted((a, m, p) for (a, m), p in merged.items() if p))


class Diff:
    """The writes that bring a chunk of members to their replays; `write` sends them."""

    def __init__(self, session: Session, shop_id: int, stored: dict[int | None, _Stored]) -> None:
        self.session, self.shop_id, self.stored = session, shop_id, stored
        self.new_txns: list[dict[str, Any]] = []
        self.new_legs: list[LegKey] = []
        self.changed_txns: list[dict[str, Any]] = []
        self.changed_legs: dict[int, LegKey] = {}
        self.gone_txns: list[int] = []
        self.new_lots: list[dict[str, Any]] = []
        self.changed_lots: list[dict[str, Any]] = []
        self.gone_lots: list[int] = []

    def member(self, member_id: int, outcome: Outcome, purchase_ids: dict[str, int]) -> bool:
        """Queue the member's differences; True if its ledger or lots change."""
        mine = self.stored.get(member_id) or _Stored()
        before = self._count()
        target = {e.key: e for e in outcome.entries}
        for key, (txn_id, *_rest) in mine.txns.items():
            if key not in target:
                self.gone_txns.append(txn_id)
        for key, entry in target.items():
            legs = _legs(entry, member_id)
            purchase_id = purchase_ids.get(entry.purchase_key) if entry.purchase_key else None
            values = {"effective_at": entry.at, "reason": entry.reason, "purchase_id": purchase_id}
            old = mine.txns.get(key)
            if old is None:
                self.new_txns.append(
                    {
                        "shop_id": self.shop_id,
                        "member_id": member_id,
                        "source": entry.source,
                        "source_id": entry.source_id,
                        "kind": entry.kind,
                        **values,
                    }
                )
                self.new_legs.append(legs)
            elif (old[1], old[2], old[3], old[4]) != (entry.at, entry.reason, purchase_id, legs):
                self.changed_txns.append({"id": old[0], **values})
                if old[4] != legs:
                    self.changed_legs[old[0]] = legs
        self._lots(member_id, mine, outcome.lots, purchase_ids)
        return self._count() != before

    def _lots(self, member_id: int, mine: _Stored, lots: list[Lot], purchase_ids: dict[str, int]) -> None:
        keys = {lot.key for lot in lots}
        self.gone_lots += [row["id"] for key, row in mine.lots.items() if key not in keys]
        for lot in lots:
            values = {f: getattr(lot, f) for f in LOT_FIELDS if f != "purchase_id"}
            values["purchase_id"] = purchase_ids.get(lot.purchase_key) if lot.purchase_key else None
            old = mine.lots.get(lot.key)
            if old is None:
                self.new_lots.append(
                    {"shop_id": self.shop_id, "member_id": member_id, "key": lot.key, **values}
                )
            elif any(old[f] != values[f] for f in LOT_FIELDS):
                self.changed_lots.append({"id": old["id"], **values})

    def _count(self) -> int:
        return sum(
            len(x)
            for x in (
                self.new_txns,
                self.changed_txns,
                self.gone_txns,
                self.new_lots,
                self.changed_lots,
                self.gone_lots,
            )
        )

    def write(self) -> None:
        """Send the queued changes: deletes, updates, then inserts (transactions before their postings)."""
        session = self.session
        if self.gone_txns or self.changed_legs:
            stale = self.gone_txns + list(self.changed_legs)
            session.execute(delete(LedgerPosting).where(LedgerPosting.transaction_id.in_(stale)))
        if self.gone_txns:
            session.execute(delete(LedgerTransaction).where(LedgerTransaction.id.in_(self.gone_txns)))
        if self.gone_lots:
            session.execute(delete(PointLot).where(PointLot.id.in_(self.gone_lots)))
        if self.changed_txns:
            session.execute(update(LedgerTransaction), self.changed_txns)
        if self.changed_lots:
            session.execute(update(PointLot), self.changed_lots)
        postings = [self._posting(txn_id, leg) for txn_id, legs in self.changed_legs.items() for leg in legs]
        if self.new_txns:
            # Core inserts on the tables: one multi-row statement per batch (the ORM's bulk path splits rows
            # by which values are None, and postings alternate member and shop legs).
            table = LedgerTransaction.__table__
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids = session.scalars(stmt, self.new_txns).all()
            postings += [
                self._posting(txn_id, leg)
                for txn_id, legs in zip(ids, self.new_legs, strict=True)
                for leg in legs
            ]
        if postings:
            session.execute(insert(LedgerPosting.__table__), postings)
        if self.new_lots:
            session.execute(insert(PointLot.__table__), self.new_lots)

    def _posting(self, txn_id: int, leg: tuple[str, int | None, int]) -> dict[str, Any]:
        account, member_id, points = leg
        return {
            "transaction_id": txn_id,
            "shop_id": self.shop_id,
            "member_id": member_id,
            "account": account,
            "points": points,
        }
