"""RFM buckets and the Shopify segment query of each grid cell.

The grid uses the same facts the app writes to each customer's `$app` metafields (`last_purchase_at`, a date
in the shop's time zone, and `purchase_count`, counted purchases only), so a cell's query selects in Shopify
the members the cell counts, as of the day the figures were computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.sync.segment_templates import Condition, SegmentDefinition, render

# Days since the last counted purchase (local dates): (low, high), high None for "and older".
RECENCY: tuple[tuple[int, int | None], ...] = ((0, 30), (31, 90), (91, 180), (181, 365), (366, None))
# Counted purchases over the member's lifetime: (low, high), high None for "and more".
FREQUENCY: tuple[tuple[int, int | None], ...] = ((1, 1), (2, 2), (3, 4), (5, 9), (10, None))


@dataclass(frozen=True, slots=True)
class Bucket:
    """One range of a grid axis, with its label parts for the page."""

    index: int
    low: int
    high: int | None

    @property
    def label(self) -> str:
        if self.high is None:
            return f"{self.low}+"
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


def recency_buckets() -> list[Bucket]:
    return [Bucket(i, low, high) for i, (low, high) in enumerate(RECENCY)]


def frequency_buckets() -> list[Bucket]:
    return [Bucket(i, low, high) for i, (low, high) in enumerate(FREQUENCY)]


def _recency_condition(bucket: Bucket) -> Condition:
    """`last_purchase_at` within the bucket's days before today (offsets count back from today)."""
    if bucket.high is None:
        return Condition("last_purchase_at", "<=", f"-{bucket.low}d")
    if bucket.low == 0:
        return Condition("last_purchase_at", ">=", f"-{bucket.high}d")
    return Condition("last_purchase_at", "BETWEEN", (f"-{bucket.high}d", f"-{bucket.low}d"))


def _frequency_condition(bucket: Bucket) -> Condition:
    if bucket.high is None:
        return Condition("purchase_count", ">=", bucket.low)
    if bucket.low == bucket.high:
        return Condition("purchase_count", "=", bucket.low)
    return Condition("purchase_count", "BETWEEN", (bucket.low, bucket.high))


def cell_definition(recency: Bucket, frequency: Bucket) -> SegmentDefinition:
    """The segment of one grid cell: both conditions must hold."""
    handle = f"rfm-r{recency.index + 1}-f{frequency.index + 1}"
    return SegmentDefinition(
        handle, handle, ((_recency_condition(recency), _frequency_condition(frequency)),)
    )


def app_filter_names(namespace: str) -> dict[str, str]:
    """The segment filter names of our two metafields: Shopify lists an app-owned metafield's filter as
    `metafields.<resolved $app namespace>.<key>` (app/sync/segment_templates.py filter_names_from)."""
    return {key: f"metafields.{namespace}.{key}" for key in ("last_purchase_at", "purchase_count")}


def cell_query(recency: Bucket, frequency: Bucket, filter_names: Mapping[str, str]) -> str:
    """The query text to paste into Shopify's segment editor."""
    return render(cell_definition(recency, frequency), filter_names)
