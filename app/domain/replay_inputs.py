"""What the history replay (app/domain/replay.py) reads and returns: purchases, movements, bonuses, entries.

Entry keys (source, source id, kind) are stable, so the stored ledger can be brought to a replay's result by
difference; the kinds a replay derives are in DERIVED_KINDS, the movements people make in MOVEMENT_KINDS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.domain.history import PurchaseFact, RefundFact
from app.domain.lots import Leg, Lot

DERIVED_KINDS = frozenset(
    {
        "earn",
        "refund_reversal",
        "cancel",
        "mature",
        "expire",
        "release",
        "shortfall",
        "bonus",
        "bonus_reversal",
    }
    | {"bonus_cancel"}
)
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
    location: str | None = None

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
class BonusIn:
    """A campaign bonus granted to the member: tied to a purchase (follows its refunds) or standalone."""

    campaign_id: int
    occasion: str  # unique in the shop for the campaign: "<member id>:<occasion key>"
    at: datetime
    points: int
    purchase_key: str | None = None
    expires_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"campaign:{self.campaign_id}:{self.occasion}"

    @property
    def source_id(self) -> str:
        return f"{self.campaign_id}:{self.occasion}"


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
