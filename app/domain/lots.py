"""A member's point lots during a replay: credit, debit by policy, draw oldest first, mature, expire.

Every credit lands in a lot (one per order, per staff grant, per opening balance) so that spending, refunds
and expiry can go oldest first. Invariant: the lots' pending points equal the pending balance, and their
remaining points equal the available balance plus the debt (points spent or taken back that no lot covered,
repaid from the next points that become available).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.domain.points import LotView, draw_oldest_first
from app.domain.settings import PointRules

Leg = tuple[str, bool, int]  # (account, True for the member's own account, points); legs sum to zero


@dataclass(slots=True)
class Lot:
    """Points from one credit, as they stand at the replay's current instant."""

    key: str  # "<source>:<source id>" of the order or movement that created it
    purchase_key: str | None
    earned_at: datetime
    matures_at: datetime
    pending: int = 0
    remaining: int = 0
    matured_at: datetime | None = None
    expired_at: datetime | None = None
    points_expired: int = 0
    fixed_expiry: datetime | None = None  # an opening balance's own expiry date
    expires_at: datetime | None = None  # when it will expire, as far as is known at the end of the replay

    def view(self, seq: int) -> LotView:
        """What the allocation functions see; `seq` orders lots earned at the same instant."""
        return LotView(seq, self.earned_at, self.pending, self.remaining, self.expired_at is not None)


@dataclass(slots=True)
class Book:
    """The lots and the debt of one member, changed by the replay in event-time order."""

    lots: list[Lot] = field(default_factory=list)
    debt: int = 0
    flag: str | None = None

    def lot(self, key: str) -> Lot | None:
        """The lot created by `key`, if any."""
        return next((lot for lot in self.lots if lot.key == key), None)

    def _draw(self, lots: list[Lot], amount: int, field_name: str) -> list[tuple[Lot, int]]:
        views = [lot.view(i) for i, lot in enumerate(lots)]
        taken = []
        for index, points in draw_oldest_first(views, amount, field_name):
            lot = lots[index]
            setattr(lot, field_name, getattr(lot, field_name) - points)
            taken.append((lot, points))
        return taken

    def draw_available(self, amount: int, rules: PointRules) -> tuple[list[tuple[Lot, int]], list[Leg]]:
        """Take `amount` available points oldest first for a spend, a hold or a staff debit.

        The balance covered it when it was made; a shortfall means history since rewritten (an order edited
        down, a late refund before it) took points back first. allow_negative: the shortfall is debt;
        claw_back_pending: it is covered from pending points, then written off. Returns the lots drawn
        and the legs of that covering entry (empty when nothing was short or the policy allows debt).
        """
        taken = self._draw(self.lots, amount, "remaining")
        short = amount - sum(points for _, points in taken)
        if short <= 0:
            return taken, []
        if rules.negative_policy == "allow_negative":
            self.debt += short
            self.flag = "negative_balance"
            return taken, []
        pending = sum(n for _, n in self._draw(self.lots, short, "pending"))
        legs: list[Leg] = [("available", True, short)]
        if pending:
            legs.append(("pending", True, -pending))
        if short > pending:
            legs.append(("writeoff", False, -(short - pending)))
            self.flag = "refund_writeoff"
        return taken, legs

    def repay_debt(self) -> None:
        """Points that just became available first cover the debt (in the lots: the balance shows it)."""
        if self.debt > 0:
            self.debt -= sum(points for _, points in self._draw(self.lots, self.debt, "remaining"))

    def credit(self, lot: Lot, points: int) -> Leg:
        """Add points to a lot: pending until it matures, else available. Returns the member's leg."""
        if lot.matured_at is None:
            lot.pending += points
            return ("pending", True, points)
        lot.remaining += points
        self.repay_debt()
        return ("available", True, points)

    def debit_order(self, own: Lot | None, points: int, rules: PointRules) -> list[Leg]:
        """Take back an order's points: its own lot, then available oldest first, then the shop's policy.

        allow_negative: the points were spent, so the balance goes negative and the next points repay it;
        claw_back_pending: take other orders' pending points, and write off what is still missing.
        """
        mine = [own] if own is not None else []
        others = [lot for lot in self.lots if lot is not own]
        taken = {"pending": 0, "available": 0, "writeoff": 0}
        left = points
        for lots, name, account in (
            (mine, "pending", "pending"),
            (mine, "remaining", "available"),
            (others, "remaining", "available"),
        ):
            got = sum(n for _, n in self._draw(lots, left, name))
            taken[account] += got
            left -= got
        if left > 0 and rules.negative_policy == "allow_negative":
            taken["available"] += left
            self.debt += left
            self.flag = "negative_balance"
            left = 0
        elif left > 0:
            got = sum(n for _, n in self._draw(others, left, "pending"))
            taken["pending"] += got
            left -= got
            if left > 0:
                taken["writeoff"] += left
                self.flag = "refund_writeoff"
        legs: list[Leg] = [(account, True, -n) for account, n in taken.items() if n and account != "writeoff"]
        if taken["writeoff"]:
            legs.append(("writeoff", False, -taken["writeoff"]))
        return legs

    def mature(self, lot: Lot, at: datetime) -> int:
        """The lot's return window closed at `at`: its pending points become available."""
        points = lot.pending
        lot.matured_at = at
        lot.remaining += points
        lot.pending = 0
        self.repay_debt()
        return points

    def expire(self, lot: Lot, at: datetime) -> int:
        """The lot expires at `at` (once): its remaining points are lost."""
        points = lot.remaining
        lot.expired_at = at
        lot.points_expired += points
        lot.remaining = 0
        return points

    def settle_shortfall(self, points: int, key: str, at: datetime) -> None:
        """Points a hold took beyond its lots (they became debt) come back: they cancel the debt, and what
        the debt no longer covers (repaid meanwhile) becomes a lot of its own so lots match the balance."""
        if points <= 0:
            return
        cancel = min(points, self.debt)
        self.debt -= cancel
        if points > cancel:
            self.lots.append(Lot(key, None, at, at, remaining=points - cancel, matured_at=at))

    def give_back(self, allocation: list[tuple[Lot, int]]) -> tuple[int, int]:
        """Points held for a reward code return to their lots; those of expired lots expire now.

        Returns (points available again, points expired).
        """
        back = gone = 0
        for lot, points in allocation:
            if lot.expired_at is not None:
                lot.points_expired += points
                gone += points
            else:
                lot.remaining += points
                back += points
        self.repay_debt()
        return back, gone
