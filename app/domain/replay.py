"""A member's points as a pure function of what happened, replayed in the order it happened.

Inputs are the member's purchases (newest snapshot, every refund, the cancellation) and the point movements
people made (spends, staff adjustments, reward-code holds, opening balances). The replay walks them in event
time and interleaves the clock: lots mature when their return window closes and expire at the instant the
shop's rule says, so every entry carries the instant it happened. The result is the same whatever order the
app learned of the events in: a late or backdated POS sale, a refund before its order, a duplicate, a merge.

Entry keys (source, source id, kind) are stable, so the stored ledger can be brought to the replay's result
by difference: `earn` (the order), `refund_reversal` (the refund), `cancel` (the order), `mature` and
`expire` (source "lot", the lot's key), `release` (source "reward", the code) are derived here; the movements'
own entries are inputs and keep their legs. Campaign bonuses granted to the member (app/domain/campaigns.py
decides the occasions, app/points/campaigns.py the budget and holdout) are inputs too: `bonus` (source
"campaign"), and for a bonus tied to a purchase `bonus_reversal` at each refund (proportional to what is left
of the purchase) and `bonus_cancel` when the order is cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from app.domain.campaigns import proportional
from app.domain.history import PurchaseFact
from app.domain.lots import Book, Leg, Lot
from app.domain.points import order_points
from app.domain.ranks import RankFloor, held_before
from app.domain.replay_inputs import (
    DERIVED_KINDS,
    MOVEMENT_KINDS,
    MOVEMENT_ORDER,
    BonusIn,
    EarnTerms,
    Entry,
    MovementIn,
    Outcome,
    PurchaseIn,
    RefundIn,
    movement_legs,
)
from app.domain.settings import ShopRules

__all__ = [
    "DERIVED_KINDS",
    "MOVEMENT_KINDS",
    "MOVEMENT_ORDER",
    "BonusIn",
    "EarnTerms",
    "Entry",
    "MovementIn",
    "Outcome",
    "PurchaseIn",
    "RefundIn",
    "earning_terms",
    "movement_legs",
    "replay",
]


class _Replay:
    """One walk through a member's history; see the module docstring."""

    def __init__(self, rules: ShopRules, tz: str, floor: RankFloor | None) -> None:
        self.rules, self.tz, self.floor = rules, tz, floor
        self.book = Book()
        self.out = Outcome()
        self.balances = {"pending": 0, "available": 0, "held": 0}
        self.credited: dict[str, int] = {}
        self.bonus_credited: dict[str, int] = {}
        self.bonuses: dict[str, list[BonusIn]] = {}  # purchase key -> the bonuses tied to it
        self.purchase_at: dict[str, datetime] = {}
        self.holds: dict[str, list[tuple[Lot, int]]] = {}
        self.hold_points: dict[str, int] = {}
        self.horizon = timedelta(days=rules.points.expiry_days)
        self.clock: datetime | None = None  # the instant the replay has reached; timers never go back

    # -- posting ------------------------------------------------------------------------------------
    def _post(self, entry: Entry, derived: bool = True) -> None:
        for account, mine, points in entry.legs:
            if mine:
                self.balances[account] += points
        if derived:
            self.out.entries.append(entry)

    def _change(self, p: PurchaseIn, target: int, at: datetime, kind: str, source: str, sid: str) -> None:
        """Bring the purchase's credited points to `target` with one entry of `kind` at `at`."""
        delta = target - self.credited.get(p.key, 0)
        if delta == 0:
            return
        self.credited[p.key] = target
        matures = p.processed_at + timedelta(days=self.rules.points.pending_days)
        lot = self._lot(p.key, p.key, p.processed_at, matures)
        reason = None if kind == "earn" else ("order cancelled" if kind == "cancel" else "refund")
        self._post(Entry(source, sid, kind, at, self._legs(lot, delta), p.key, reason))

    def _lot(
        self,
        key: str,
        purchase: str | None,
        earned: datetime,
        matures: datetime,
        fixed: datetime | None = None,
    ) -> Lot:
        """The lot `key` credits into; one tied to no purchase is spendable at once (like a staff grant)."""
        lot = self.book.lot(key)
        if lot is None:
            matured = earned if purchase is None else None
            lot = Lot(key, purchase, earned, matures, matured_at=matured, fixed_expiry=fixed)
            self.book.lots.append(lot)
        return lot

    def _legs(self, lot: Lot, delta: int) -> tuple[Leg, ...]:
        if delta > 0:
            return (("issued", False, -delta), self.book.credit(lot, delta))
        return (("issued", False, -delta), *self.book.debit_order(lot, -delta, self.rules.points))

    def _bonus(
        self, b: BonusIn, target: int, at: datetime, kind: str, sid: str, p: PurchaseIn | None
    ) -> None:
        """Bring a campaign bonus to `target` points with one entry of `kind`."""
        delta = target - self.bonus_credited.get(b.key, 0)
        if delta == 0:
            return
        self.bonus_credited[b.key] = target
        if p is not None:  # tied to a purchase: pending through the same return window
            matures = p.processed_at + timedelta(days=self.rules.points.pending_days)
            lot = self._lot(b.key, p.key, p.processed_at, matures, b.expires_at)
        else:
            lot = self._lot(b.key, None, b.at, b.at, b.expires_at)
        reason = {"bonus_reversal": "refund", "bonus_cancel": "order cancelled"}.get(kind)
        self._post(Entry("campaign", sid, kind, at, self._legs(lot, delta), b.purchase_key, reason))

    def standalone(self, b: BonusIn) -> None:
        self._bonus(b, b.points, b.at, "bonus", b.source_id, None)

    # -- events -------------------------------------------------------------------------------------
    def earn(self, p: PurchaseIn, multiplier: Decimal) -> None:
        self.purchase_at[p.key] = p.processed_at
        since = self.rules.points.earn_since
        if since is not None and p.processed_at < since:
            return
        if p.cancelled_at is not None and p.cancelled_at <= p.processed_at:
            return
        refunded = sum((r.amount for r in p.refunds if r.processed_at < p.processed_at), Decimal(0))
        target = order_points(p.gross - refunded, p.earn_rate, multiplier)
        self._change(p, target, p.processed_at, "earn", p.source, p.source_id)
        self.credited.setdefault(p.key, 0)  # earned, if nothing: its refunds still take its bonuses back
        for b in self.bonuses.get(p.key, ()):
            points = proportional(b.points, p.gross, p.gross - refunded)
            self._bonus(b, points, p.processed_at, "bonus", b.source_id, p)

    def refund(self, p: PurchaseIn, refund: RefundIn, multiplier: Decimal) -> None:
        if p.key not in self.credited:
            return  # the purchase earned nothing (before earn_since, or cancelled first)
        done = [
            r for r in p.refunds if (r.processed_at, r.source_id) <= (refund.processed_at, refund.source_id)
        ]
        cancelled = p.cancelled_at is not None and p.cancelled_at <= refund.processed_at
        net = Decimal(0) if cancelled else p.gross - sum((r.amount for r in done), Decimal(0))
        target = order_points(net, p.earn_rate, multiplier)
        self._change(p, target, refund.processed_at, "refund_reversal", refund.source, refund.source_id)
        self._tied_after(p, net, refund)

    def _tied_after(self, p: PurchaseIn, net: Decimal, refund: RefundIn) -> None:
        """A refund takes the purchase's bonuses down in proportion to what is left of it (`net`)."""
        for b in self.bonuses.get(p.key, ()):
            target = proportional(b.points, p.gross, net)
            sid = f"{b.source_id}/{refund.source_id}"
            self._bonus(b, target, refund.processed_at, "bonus_reversal", sid, p)

    def cancel(self, p: PurchaseIn) -> None:
        if p.key in self.credited and p.cancelled_at is not None:
            self._change(p, 0, p.cancelled_at, "cancel", p.source, p.source_id)
            for b in self.bonuses.get(p.key, ()):
                self._bonus(b, 0, p.cancelled_at, "bonus_cancel", b.source_id, p)

    def move(self, m: MovementIn) -> None:
        book = self.book
        if m.kind == "release":
            allocation = self.holds.pop(m.source_id, [])
            points = self.hold_points.pop(m.source_id, m.points)
            back, gone = book.give_back(allocation)
            book.settle_shortfall(points - back - gone, f"{m.source}:{m.source_id}", m.at)
            legs: tuple[Leg, ...] = (("held", True, -points), ("available", True, points - gone))
            if gone:
                legs += (("expired", False, gone),)
            self._post(Entry(m.source, m.source_id, "release", m.at, legs))
            return
        self._post(Entry(m.source, m.source_id, m.kind, m.at, movement_legs(m)), derived=False)
        if m.kind in ("spend", "hold") or (m.kind == "adjust" and m.points < 0):
            taken, cover = book.draw_available(abs(m.points), self.rules.points)
            if cover:
                reason = "points used were taken back first: covered by the shop's policy"
                self._post(Entry(m.source, m.source_id, "shortfall", m.at, tuple(cover), None, reason))
            if m.kind == "hold":
                self.holds[m.source_id] = taken
                self.hold_points[m.source_id] = m.points
        elif m.kind in ("opening", "adjust"):
            lot = Lot(m.lot_key, None, m.at, m.at, matured_at=m.at, fixed_expiry=m.expires_at)
            book.lots.append(lot)
            book.credit(lot, m.points)
        elif m.kind == "capture":
            self.holds.pop(m.source_id, None)
            self.hold_points.pop(m.source_id, None)

    # -- the clock ----------------------------------------------------------------------------------
    def last_earning(self) -> datetime | None:
        """The newest purchase that has points credited right now (a fully refunded one is no activity)."""
        times = [self.purchase_at[k] for k, n in self.credited.items() if n > 0]
        return max(times) if times else None

    def expiry_due(self, lot: Lot, last: datetime | None) -> datetime:
        """When an open lot expires under the shop's rule, as things stand."""
        if lot.fixed_expiry is not None:
            due = lot.fixed_expiry
        elif self.rules.points.expiry_mode == "per_lot" or last is None:
            due = lot.earned_at + self.horizon
        else:
            due = last + self.horizon
        return max(due, lot.matured_at or due)

    def next_timer(self) -> tuple[datetime, str, Lot] | None:
        """The earliest maturity or expiry still to happen: (instant, "mature" | "expire", lot)."""
        best: tuple[datetime, str, Lot] | None = None
        last = self.last_earning()
        for lot in self.book.lots:
            if lot.matured_at is None:
                candidate = (lot.matures_at, "mature", lot)
            elif lot.expired_at is None and lot.pending == 0:
                candidate = (self.expiry_due(lot, last), "expire", lot)
            else:
                continue
            if self.clock is not None and candidate[0] < self.clock:
                candidate = (self.clock, candidate[1], lot)
            if best is None or (candidate[0], candidate[1]) < (best[0], best[1]):
                best = candidate
        return best

    def tick(self, timer: tuple[datetime, str, Lot]) -> None:
        at, what, lot = timer
        self.clock = at
        source_id = lot.key
        if what == "mature":
            points = self.book.mature(lot, at)
            legs: tuple[Leg, ...] = (("pending", True, -points), ("available", True, points))
        else:
            points = self.book.expire(lot, at)
            legs = (("available", True, -points), ("expired", False, points))
        if points:
            self._post(Entry("lot", source_id, what, at, legs, lot.purchase_key))


def earning_terms(
    purchases: Sequence[PurchaseIn],
    rules: ShopRules,
    tz: str,
    floor: RankFloor | None = None,
    frozen: dict[str, tuple[str, Decimal]] | None = None,
    facts: Sequence[PurchaseFact] | None = None,
) -> dict[str, tuple[str, Decimal]]:
    """Each purchase's (rank held just before it, that rank's multiplier); frozen ones as they were earned.

    `facts`: the purchases' facts when the caller has them already (the engine needs them for the rank too).
    """
    facts = facts if facts is not None else [p.fact() for p in purchases]
    terms: dict[str, tuple[str, Decimal]] = dict(frozen or {})
    for p in purchases:
        if p.key not in terms:
            tier = held_before(facts, rules.ranks, rules.points.rate, p.processed_at, tz, floor)
            terms[p.key] = (tier.handle, tier.multiplier)
    return terms


def replay(
    purchases: Sequence[PurchaseIn],
    movements: Sequence[MovementIn],
    rules: ShopRules,
    now: datetime,
    tz: str,
    floor: RankFloor | None = None,
    frozen: dict[str, tuple[str, Decimal]] | None = None,
    *,
    terms: dict[str, tuple[str, Decimal]] | None = None,
    bonuses: Sequence[BonusIn] = (),
) -> Outcome:
    """The member's derived entries, lots, balances and earning terms after everything up to `now`.

    `frozen`: purchases whose rank terms (rank, multiplier) stay as they were earned, because the shop's
    rules changed after them (a new rule applies from its change on, never to points already earned).
    `terms`: the earning terms already worked out by `earning_terms` (else they are worked out here).
    `bonuses`: campaign bonuses granted to the member; one tied to a purchase the member no longer has is
    dropped (the award is withdrawn by its caller).
    """
    run = _Replay(rules, tz, floor)
    if terms is None:
        terms = earning_terms(purchases, rules, tz, floor, frozen)
    keys = {p.key for p in purchases}
    # (instant, order at that instant, tie-break, action). At one instant, movements come first (points
    # used in a sale are spent from the balance before that sale earns), then sales, refunds, cancels.
    events: list[tuple[datetime, int, str, object]] = []
    for m in movements:
        events.append((m.at, 0, f"{MOVEMENT_ORDER[m.kind]}:{m.source}:{m.source_id}", (run.move, m)))
    for p in purchases:
        multiplier = terms[p.key][1]
        events.append((p.processed_at, 1, p.key, (run.earn, p, multiplier)))
        for r in p.refunds:
            events.append((r.processed_at, 2, f"{p.key}/{r.source_id}", (run.refund, p, r, multiplier)))
        if p.cancelled_at is not None:
            events.append((max(p.cancelled_at, p.processed_at), 3, p.key, (run.cancel, p)))
    for b in bonuses:
        if b.purchase_key is None:
            events.append((b.at, 1, f"~{b.key}", (run.standalone, b)))
        elif b.purchase_key in keys:
            run.bonuses.setdefault(b.purchase_key, []).append(b)
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    index = 0
    while True:
        timer = run.next_timer()
        event_at = events[index][0] if index < len(events) else None
        if timer is not None and timer[0] <= now and (event_at is None or timer[0] <= event_at):
            run.tick(timer)
        elif event_at is not None:
            action = events[index][3]
            run.clock = event_at
            index += 1
            action[0](*action[1:])  # type: ignore[index]
        else:
            break
    out = run.out
    last = run.last_earning()
    for lot in run.book.lots:
        if lot.expired_at is None and lot.pending == 0 and lot.matured_at is not None:
            lot.expires_at = run.expiry_due(lot, last)
    upcoming = run.next_timer()
    out.next_due_at = upcoming[0] if upcoming is not None else None
    out.lots, out.debt, out.flag = run.book.lots, run.book.debt, run.book.flag
    out.balances = dict(run.balances)
    out.last_earning_at = last
    out.terms = {k: EarnTerms(rank, mult, run.credited.get(k, 0)) for k, (rank, mult) in terms.items()}
    return out
