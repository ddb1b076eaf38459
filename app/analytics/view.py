"""The analytics page's read model: the stored snapshot turned into rows the template and CSV show.

Reading it costs two primary-key reads and the backfill check (no aggregate runs in a request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.analytics.campaigns import Effect, from_json
from app.analytics.queries import RETENTION_MONTHS
from app.analytics.rfm import Bucket, app_filter_names, cell_query, frequency_buckets, recency_buckets
from app.analytics.snapshot import MIXES
from app.dashboard.summary import Importing, importing
from app.models.dashboard import AnalyticsSnapshot
from app.models.shop import Shop

CHANNELS = ("online", "pos", "external_pos", "app", "other")
ALL = "all"


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class F2Row:
    channel: str  # a purchase channel, or "all"
    buyers: int
    eligible: list[int]
    converted: list[int]

    @property
    def rates(self) -> list[float | None]:
        return [share(c, e) for c, e in zip(self.converted, self.eligible, strict=True)]


@dataclass(frozen=True)
class Cell:
    members: int
    average: Decimal  # average lifetime net spend of the cell's members
    query: str | None  # the Shopify segment query; None until the shop's metafield namespace is known


@dataclass(frozen=True)
class CohortRow:
    month: str  # "YYYY-MM" of the first purchase
    size: int
    active: list[int | None]  # buyers with a purchase in month +1..+12; None for months not begun

    @property
    def shares(self) -> list[float | None]:
        return [None if n is None else share(n, self.size) for n in self.active]


@dataclass(frozen=True)
class LtvRow:
    mix: str
    members: int
    average: Decimal
    median: Decimal


@dataclass(frozen=True)
class AnalyticsView:
    computed_at: datetime | None  # None until the worker has computed figures
    duration_ms: int
    requested: bool
    importing: Importing | None
    windows: list[int]
    f2: list[F2Row]
    frequency: list[tuple[Bucket, int]]
    recency_buckets: list[Bucket]
    frequency_buckets: list[Bucket]
    rfm: list[list[Cell]]  # [recency][frequency]
    ltv: list[LtvRow]
    cohort_channel: str
    cohorts: list[CohortRow]
    campaigns: list[Effect] = field(default_factory=list)  # started campaigns against their holdout

    @property
    def buyers(self) -> int:
        return sum(n for _, n in self.frequency)

    @property
    def repeat_buyers(self) -> int:
        return sum(n for bucket, n in self.frequency if bucket.low >= 2)

    @property
    def repeat_rate(self) -> float | None:
        return share(self.repeat_buyers, self.buyers)

    @property
    def rfm_max(self) -> int:
        """The fullest cell's member count (the grid's colour scale)."""
        return max((cell.members for row in self.rfm for cell in row), default=0)


def analytics_view(session: Session, shop: Shop, cohort_channel: str = ALL) -> AnalyticsView:
    """The page's data from the stored snapshot (empty figures until the worker computed them)."""
    snapshot = session.get(AnalyticsSnapshot, shop.id)
    data: dict[str, Any] = snapshot.data if snapshot is not None and snapshot.data else {}
    windows = list(data.get("windows", [30, 60, 90]))
    f2 = [
        F2Row(ch, row["buyers"], list(row["eligible"]), list(row["converted"]))
        for ch, row in sorted(data.get("f2", {}).items(), key=lambda kv: _channel_order(kv[0]))
    ]
    if f2:
        f2.append(
            F2Row(
                ALL,
                sum(r.buyers for r in f2),
                [sum(r.eligible[i] for r in f2) for i in range(len(windows))],
                [sum(r.converted[i] for r in f2) for i in range(len(windows))],
            )
        )
    rb, fb = recency_buckets(), frequency_buckets()
    rfm = data.get("rfm", {})
    counts = rfm.get("members") or [[0] * len(fb) for _ in rb]
    spend = rfm.get("spend") or [["0"] * len(fb) for _ in rb]
    names = app_filter_names(shop.app_namespace) if shop.app_namespace else None
    cells = [
        [
            Cell(
                counts[r.index][f.index],
                _avg(spend[r.index][f.index], counts[r.index][f.index]),
                cell_query(r, f, names) if names else None,
            )
            for f in fb
        ]
        for r in rb
    ]
    frequency = [(f, sum(counts[r.index][f.index] for r in rb)) for f in fb]
    ltv = [
        LtvRow(
            mix,
            int(row["members"]),
            _avg(row["total"], int(row["members"])),
            Decimal(row["median"]).quantize(Decimal("1")),
        )
        for mix in MIXES
        for row in [data.get("ltv", {}).get(mix, {"members": 0, "total": "0", "median": "0"})]
    ]
    channel = cohort_channel if cohort_channel in CHANNELS else ALL
    return AnalyticsView(
        computed_at=snapshot.computed_at if snapshot is not None and data else None,
        duration_ms=snapshot.duration_ms if snapshot is not None else 0,
        requested=snapshot is not None and snapshot.requested_at is not None,
        importing=importing(session, shop),
        windows=windows,
        f2=f2,
        frequency=frequency,
        recency_buckets=rb,
        frequency_buckets=fb,
        rfm=cells,
        ltv=ltv,
        cohort_channel=channel,
        cohorts=_cohorts(data, channel),
        campaigns=[from_json(row) for row in data.get("campaigns", [])],
    )


def _channel_order(channel: str) -> int:
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def _avg(total: str, count: int) -> Decimal:
    if not count:
        return Decimal("0")
    return (Decimal(total) / count).quantize(Decimal("1"))


def _cohorts(data: dict[str, Any], channel: str) -> list[CohortRow]:
    """Cohort rows of one first channel (or of all, added up: each buyer has exactly one first channel)."""
    months: list[str] = data.get("cohort_months", [])
    by_channel: dict[str, dict[str, list[int]]] = data.get("cohorts", {})
    chosen = list(by_channel.values()) if channel == ALL else [by_channel.get(channel, {})]
    rows = []
    for age, month in enumerate(reversed(months)):  # newest first; age = months since the cohort's month
        counts = [
            sum(c.get(month, [0] * (RETENTION_MONTHS + 1))[k] for c in chosen)
            for k in range(RETENTION_MONTHS + 1)
        ]
        active = [counts[k] if k <= age else None for k in range(1, RETENTION_MONTHS + 1)]
        rows.append(CohortRow(month, counts[0], active))
    return rows
