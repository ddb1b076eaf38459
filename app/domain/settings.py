"""Shop rules for points, ranks and channels: defaults, validation and the `Shop.settings` JSON shape."""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

ExpiryMode = Literal["last_activity", "per_lot"]
NegativePolicy = Literal["allow_negative", "claw_back_pending"]
RankBasis = Literal["spend", "points", "count"]
RankWindow = Literal["rolling_365", "yearly"]
DowngradeTiming = Literal["immediate", "next_cycle"]
DowngradeStep = Literal["reset", "one_tier"]

EXPIRY_MODES = ("last_activity", "per_lot")
NEGATIVE_POLICIES = ("allow_negative", "claw_back_pending")
RANK_BASES = ("spend", "points", "count")
RANK_WINDOWS = ("rolling_365", "yearly")
DOWNGRADE_TIMINGS = ("immediate", "next_cycle")
DOWNGRADE_STEPS = ("reset", "one_tier")
# A metafield's `namespace.key`: Shopify allows 3-255 characters of letters, digits, - and _ for the namespace
# and 2-64 for the key (https://shopify.dev/docs/api/admin-graphql/latest/input-objects/MetafieldsSetInput).
METAFIELD_NAME = re.compile(r"[A-Za-z0-9_-]{3,255}\.[A-Za-z0-9_-]{2,64}")


class RulesError(ValueError):
    """Shop rules that cannot work; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Tier:
    """One rank: reached at `threshold` (in the basis unit), earns at `multiplier`."""

    handle: str
    threshold: Decimal
    multiplier: Decimal


DEFAULT_TIERS = (
    Tier("regular", Decimal("0"), Decimal("1.0")),
    Tier("silver", Decimal("30000"), Decimal("1.2")),
    Tier("gold", Decimal("100000"), Decimal("1.5")),
    Tier("platinum", Decimal("300000"), Decimal("2.0")),
)


@dataclass(frozen=True, slots=True)
class PointRules:
    """How points are earned, held back, spent and lost."""

    rate: Decimal = Decimal("0.01")  # points per unit of net spend: 1 point per 100 JPY
    pending_days: int = 14  # the return window: points are pending, then available
    expiry_days: int = 365
    # last_activity: every lot expires `expiry_days` after the member's last earning purchase (DESIGN.md);
    # per_lot: each lot expires `expiry_days` after it was earned.
    expiry_mode: ExpiryMode = "last_activity"
    # A refund whose points were already spent: let available go negative (and flag the member), or take
    # the shortfall from pending points (and write off what is still missing, flagged too).
    negative_policy: NegativePolicy = "allow_negative"
    # Points for past purchases, chosen at install: None = every purchase earns points; an instant = only
    # purchases from then on do (earlier ones still count for purchase history, channel mix and rank).
    earn_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class RankRules:
    """How a member's rank is computed (see app/domain/ranks.py)."""

    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    basis: RankBasis = "spend"
    window: RankWindow = "rolling_365"
    cycle_start_month: int = 1  # yearly window start, and the boundary for next-cycle downgrades
    downgrade_timing: DowngradeTiming = "immediate"
    # At a cycle boundary: fall to the tier the member qualifies for (reset) or at most one tier.
    downgrade_step: DowngradeStep = "reset"

    def tier(self, handle: str) -> Tier:
        """The tier with this handle (KeyError if the rules no longer have it)."""
        for tier in self.tiers:
            if tier.handle == handle:
                return tier
        raise KeyError(handle)

    def index(self, handle: str) -> int:
        """Position of a tier, lowest first; an unknown handle (a deleted tier) counts as the lowest."""
        for i, tier in enumerate(self.tiers):
            if tier.handle == handle:
                return i
        return 0


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """How a purchase's channel is decided from Shopify's hints (app/domain/channels.py)."""

    pos_source_names: tuple[str, ...] = ("pos",)
    online_source_names: tuple[str, ...] = ("web", "shopify_draft_order", "iphone", "android")
    # Shopify `app_id` -> channel, e.g. a LINE shop app -> "app"; the merchant maps their own apps.
    app_channels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MemberRules:
    """Where member facts kept in Shopify are read from."""

    # The customer metafield holding the birthday (only its month is kept): Shopify's standard definition
    # `facts.birth_date` by default (https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-standard-definitions),
    # or a shop's own, such as `custom.birthday`.
    birthday_metafield: str = "facts.birth_date"


@dataclass(frozen=True, slots=True)
class ShopRules:
    """Everything a merchant can change about points, ranks and channels."""

    points: PointRules = field(default_factory=PointRules)
    ranks: RankRules = field(default_factory=RankRules)
    channels: ChannelRules = field(default_factory=ChannelRules)
    members: MemberRules = field(default_factory=MemberRules)

    def validate(self) -> ShopRules:
        """Return self, or raise RulesError naming the first broken field."""
        p, r, c, m = self.points, self.ranks, self.channels, self.members
        _check(Decimal("0") <= p.rate <= Decimal("1"), "points.rate must be between 0 and 1")
        _check(0 <= p.pending_days <= 365, "points.pending_days must be 0..365")
        _check(1 <= p.expiry_days <= 3650, "points.expiry_days must be 1..3650")
        _check(p.expiry_mode in EXPIRY_MODES, f"points.expiry_mode must be one of {EXPIRY_MODES}")
        _check(
            p.negative_policy in NEGATIVE_POLICIES,
            f"points.negative_policy must be one of {NEGATIVE_POLICIES}",
        )
        _check(r.basis in RANK_BASES, f"ranks.basis must be one of {RANK_BASES}")
        _check(r.window in RANK_WINDOWS, f"ranks.window must be one of {RANK_WINDOWS}")
        _check(1 <= r.cycle_start_month <= 12, "ranks.cycle_start_month must be 1..12")
        _check(
            r.downgrade_timing in DOWNGRADE_TIMINGS,
            f"ranks.downgrade_timing must be one of {DOWNGRADE_TIMINGS}",
        )
        _check(r.downgrade_step in DOWNGRADE_STEPS, f"ranks.downgrade_step must be one of {DOWNGRADE_STEPS}")
        _check(len(r.tiers) >= 1, "ranks.tiers needs at least one tier")
        _check(r.tiers[0].threshold == 0, "ranks.tiers: the lowest tier starts at 0")
        handles = [t.handle for t in r.tiers]
        _check(len(set(handles)) == len(handles), "ranks.tiers: handles must be unique")
        for tier in r.tiers:
            _check(
                bool(tier.handle) and tier.handle.isascii() and len(tier.handle) <= 32,
                "ranks.tiers: bad handle",
            )
            _check(
                Decimal("0") < tier.multiplier <= Decimal("10"), "ranks.tiers: multiplier must be in (0, 10]"
            )
        thresholds = [t.threshold for t in r.tiers]
        _check(
            all(a < b for a, b in itertools.pairwise(thresholds)),
            "ranks.tiers: thresholds must rise",
        )
        channels = ("online", "pos", "external_pos", "app", "other")
        _check(
            all(v in channels for v in c.app_channels.values()), f"channels.app_channels values: {channels}"
        )
        _check(
            isinstance(m.birthday_metafield, str)
            and METAFIELD_NAME.fullmatch(m.birthday_metafield) is not None,
            "members.birthday_metafield must be namespace.key (letters, digits, - and _)",
        )
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON-able dict stored in `Shop.settings["rules"]` (Decimals as strings, exact)."""
        tiers = [
            {"handle": t.handle, "threshold": str(t.threshold), "multiplier": str(t.multiplier)}
            for t in self.ranks.tiers
        ]
        since = self.points.earn_since
        points = asdict(self.points) | {
            "rate": str(self.points.rate),
            "earn_since": since.isoformat() if since is not None else None,
        }
        ranks = {f.name: getattr(self.ranks, f.name) for f in fields(RankRules) if f.name != "tiers"} | {
            "tiers": tiers
        }
        channels = {
            "pos_source_names": list(self.channels.pos_source_names),
            "online_source_names": list(self.channels.online_source_names),
            "app_channels": dict(self.channels.app_channels),
        }
        members = {"birthday_metafield": self.members.birthday_metafield}
        return {"points": points, "ranks": ranks, "channels": channels, "members": members}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ShopRules:
        """Rules from the stored dict; missing keys take the defaults, unknown keys are an error."""
        data = data or {}
        try:
            raw_points = dict(data.get("points") or {})
            if raw_points.get("earn_since"):
                raw_points["earn_since"] = _instant(raw_points["earn_since"])
            points = _build(PointRules, raw_points, decimals=("rate",))
            raw_ranks = dict(data.get("ranks") or {})
            raw_tiers = raw_ranks.pop("tiers", None)
            ranks = _build(RankRules, raw_ranks)
            if raw_tiers is not None:
                tiers = tuple(
                    Tier(str(t["handle"]), Decimal(str(t["threshold"])), Decimal(str(t["multiplier"])))
                    for t in raw_tiers
                )
                ranks = replace(ranks, tiers=tiers)
            raw_channels = dict(data.get("channels") or {})
            for key in ("pos_source_names", "online_source_names"):
                if key in raw_channels:
                    raw_channels[key] = tuple(str(v) for v in raw_channels[key])
            channels = _build(ChannelRules, raw_channels)
            members = _build(MemberRules, dict(data.get("members") or {}))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            if isinstance(exc, RulesError):
                raise
            raise RulesError(f"unreadable rules: {exc}") from exc
        return cls(points=points, ranks=ranks, channels=channels, members=members).validate()


def _instant(text: str) -> datetime:
    """An aware instant from its stored ISO form."""
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise RulesError("points.earn_since needs a time zone")
    return value


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise RulesError(message)


def _build(kind: type, raw: dict[str, Any], decimals: tuple[str, ...] = ()) -> Any:
    known = {f.name for f in fields(kind)}
    unknown = set(raw) - known
    if unknown:
        raise RulesError(f"unknown {kind.__name__} keys: {sorted(unknown)}")
    values = {k: (Decimal(str(v)) if k in decimals else v) for k, v in raw.items()}
    return kind(**values)


DEFAULT_RULES = ShopRules()
