"""A member's points as a pure function of what happened, replayed in the order it happened.

Inputs are the member's purchases (newest snapshot, every refund, the cancellation) and the point movements
people made (spends, staff adjustments, reward-code holds, opening balances). The replay walks them in event
time and interleaves the clock: lots mature when their return window closes and expire at the instant the
shop's rule says, so every entry carries the instant it happened. The result is the same whatever order the
app learned of the events in: a late or backdated POS sale, a refund before its order, a duplicate, a merge.

Entry keys (source, source id, kind) are stable, so the stored ledger can be brought to the replay's result
by difference: `earn` (the order), `refund_reversal` (the refund), `cancel` (the order), `mature` and
`expire` (source "lot", the lot's key), `release` (source "reward", the code) are derived here; the movements'
own entries are inputs and keep their legs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from app.domain.history import PurchaseFact, RefundFact
from app.domain.lots import Book, Leg, Lot
from app.domain.points import order_points
from app.domain.ranks import RankFloor, held_before
from app.domain.settings import ShopRules

DERIVED_KINDS = frozenset({"earn", "refund_reversal", "cancel", "mature", "expire", "release", "shortfall"})
MOVEMENT_KINDS = frozenset({"spend", "adjust", "hold", "capture", "release", "opening"})
# A code's hold comes before its capture or release when they share an instant; grants before spends.
MOVEMENT_ORDER = {"opening": 0, "adjust": 1, "hold": 2, "spend": 3, "capture": 4, "release": 4}


@dataclass(frozen=True, slots=True)
class RefundIn:
    """A refund of a purchase."""

    source: str
    source_id: str
    amount: Decimal
    processed_at: datetime


@dataclass(frozen=True, slots=True)
class PurchaseIn:
    """A purchase as its newest snapshot says, with every refund known."""

    source: str
    source_id: str
    processed_at: datetime
    gross: Decimal
    earn_rate: Decimal
    channel: str = "online"
    cancelled_at: datetime | None = None
    refunds: tuple[RefundIn, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"

    def fact(self) -> PurchaseFact:
        """What ranks and history see of it."""
        refunds = tuple(RefundFact(r.amount, r.processed_at) for r in self.refunds)
        return PurchaseFact(
            self.key,
            self.processed_at,
            self.gross,
            self.channel,
            cancelled=self.cancelled_at is not None,
            refunds=refunds,
        )


@dataclass(frozen=True, slots=True)
class MovementIn:
    """A point movement someone made, as stored: spend, adjust (signed), hold, capture, release, opening."""

    source: str
    source_id: str
    kind: str
    at: datetime
    points: int
    expires_at: datetime | None = None

    @property
    def lot_key(self) -> str:
        return f"{self.source}:{self.source_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A ledger transaction the replay implies: its key, instant and legs."""

    source: str
    source_id: str
    kind: str
    at: datetime
    legs: tuple[Leg, ...]
    purchase_key: str | None = None
    reason: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.source_id, self.kind)


@dataclass(frozen=True, slots=True)
class EarnTerms:
    """What a purchase earned with (the rank held just before it) and its points now, net of reversals."""

    rank: str
    multiplier: Decimal
    points: int


@dataclass(slots=True)
class Outcome:
    """The member's points after the replay up to `now`."""

    entries: list[Entry] = field(default_factory=list)  # derived entries, in time order
    lots: list[Lot] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)  # pending, available, held
    debt: int = 0
    flag: str | None = None
    terms: dict[str, EarnTerms] = field(default_factory=dict)
    last_earning_at: datetime | None = None
    next_due_at: datetime | None = None  # the next instant a lot matures or expires


def movement_legs(move: MovementIn) -> tuple[Leg, ...]:
    """The legs a movement was posted with (release excepted: its legs depend on the lots)."""
    n = move.points
    table: dict[str, tuple[Leg, ...]] = {
        "spend": (("available", True, -n), ("redeemed", False, n)),
        "hold": (("available", True, -n), ("held", True, n)),
        "capture": (("held", True, -n), ("redeemed", False, n)),
        "opening": (("issued", False, -n), ("available", True, n)),
        "adjust": (("adjustment", False, -n), ("available", True, n)),
    }
    return table[move.kind]


class _Replay:
    """One walk through a member's history; see the module docstring."""

    def __init__(self, rules: ShopRules, tz: str, floor: RankFloor | None) -> None:
        self.rules, self.tz, self.floor = rules, tz, floor
        self.book = Book()
        self.out = Outcome()
        self.balances = {"pending": 0, "available": 0, "held": 0}
        self.credited: dict[str, int] = {}
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
        lot = self.book.lot(p.key)
        if delta > 0:
            if lot is None:
                matures = p.processed_at + timedelta(days=self.rules.points.pending_days)
                lot = Lot(p.key, p.key, p.processed_at, matures)
                self.book.lots.append(lot)
            legs: list[Leg] = [("issued", False, -delta), self.book.credit(lot, delta)]
        else:
            legs = [("issued", False, -delta), *self.book.debit_order(lot, -delta, self.rules.points)]
        reason = None if kind == "earn" else ("order cancelled" if kind == "cancel" else "refund")
        self._post(Entry(source, sid, kind, at, tuple(legs), p.key, reason))

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

    def cancel(self, p: PurchaseIn) -> None:
        if p.key in self.credited and p.cancelled_at is not None:
            self._change(p, 0, p.cancelled_at, "cancel", p.source, p.source_id)

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


def replay(
    purchases: Sequence[PurchaseIn],
    movements: Sequence[MovementIn],
    rules: ShopRules,
    now: datetime,
    tz: str,
    floor: RankFloor | None = None,
    frozen: dict[str, tuple[str, Decimal]] | None = None,
) -> Outcome:
    """The member's derived entries, lots, balances and earning terms after everything up to `now`.

    `frozen`: purchases whose rank terms (rank, multiplier) stay as they were earned, because the shop's
    rules changed after them (a new rule applies from its change on, never to points already earned).
    """
    run = _Replay(rules, tz, floor)
    facts = [p.fact() for p in purchases]
    terms: dict[str, tuple[str, Decimal]] = dict(frozen or {})
    for p in purchases:
        if p.key not in terms:
            tier = held_before(facts, rules.ranks, rules.points.rate, p.processed_at, tz, floor)
            terms[p.key] = (tier.handle, tier.multiplier)
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
