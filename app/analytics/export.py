"""The analytics tables as CSV: one file per table, the same figures the page shows (shares as 0-1
fractions with four decimals, money in the shop currency, an empty cell for a figure that does not exist)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.analytics.campaigns import Effect
from app.analytics.queries import RETENTION_MONTHS
from app.analytics.view import AnalyticsView

TABLES = ("f2", "frequency", "cohorts", "rfm", "ltv", "campaigns")


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _amount(value: float | None) -> str:
    return "" if value is None else str(Decimal(str(value)).quantize(Decimal("1"), ROUND_HALF_UP))


# The campaigns table: the groups, the difference of mean sales with its 95 % interval, the incremental sales
# (difference x treated members) and the cost of each started campaign (app/analytics/campaigns.py).
CAMPAIGN_COLUMNS: tuple[tuple[str, Callable[[Effect], Any]], ...] = (
    ("campaign_id", lambda e: e.campaign_id),
    ("name", lambda e: e.name),
    ("kind", lambda e: e.kind),
    ("reward", lambda e: e.reward),
    ("treated_members", lambda e: e.treated.members),
    ("holdout_members", lambda e: e.holdout.members),
    ("treated_mean_sales", lambda e: _amount(e.treated.mean)),
    ("holdout_mean_sales", lambda e: _amount(e.holdout.mean)),
    ("difference", lambda e: _amount(e.difference)),
    ("difference_low", lambda e: _amount(e.low)),
    ("difference_high", lambda e: _amount(e.high)),
    ("treated_conversion", lambda e: _share(e.treated.conversion)),
    ("holdout_conversion", lambda e: _share(e.holdout.conversion)),
    ("incremental_sales", lambda e: _amount(e.incremental)),
    ("incremental_low", lambda e: _amount(e.incremental_low)),
    ("incremental_high", lambda e: _amount(e.incremental_high)),
    ("points_cost", lambda e: e.points_cost),
    ("codes_issued", lambda e: e.codes),
    ("sales_per_point", lambda e: "" if e.per_point is None else f"{e.per_point:.2f}"),
    ("windows_open", lambda e: e.open_windows),
)


def rows(view: AnalyticsView, table: str) -> Iterable[list[Any]]:
    """Header then data rows of one table (KeyError for an unknown table)."""
    if table == "f2":
        yield ["first_channel", "buyers"] + [
            f"{kind}_{days}d" for days in view.windows for kind in ("eligible", "converted", "rate")
        ]
        for f2 in view.f2:
            cells: list[Any] = [f2.channel, f2.buyers]
            for e, c, rate in zip(f2.eligible, f2.converted, f2.rates, strict=True):
                cells += [e, c, _share(rate)]
            yield cells
    elif table == "frequency":
        yield ["purchases", "buyers", "share"]
        for bucket, n in view.frequency:
            yield [bucket.label, n, _share(n / view.buyers if view.buyers else None)]
        yield ["repeat_rate", view.repeat_buyers, _share(view.repeat_rate)]
    elif table == "cohorts":
        yield ["first_month", "first_channel", "size"] + [f"m{k}" for k in range(1, RETENTION_MONTHS + 1)]
        for cohort in view.cohorts:
            yield [cohort.month, view.cohort_channel, cohort.size] + [_share(s) for s in cohort.shares]
    elif table == "rfm":
        yield ["recency_days", "purchases", "buyers", "average_lifetime_net", "segment_query"]
        for recency in view.recency_buckets:
            for frequency in view.frequency_buckets:
                cell = view.rfm[recency.index][frequency.index]
                yield [recency.label, frequency.label, cell.members, cell.average, cell.query or ""]
    elif table == "ltv":
        yield ["channel_mix", "buyers", "average_lifetime_net", "median_lifetime_net"]
        for row in view.ltv:
            yield [row.mix, row.members, row.average, row.median]
    elif table == "campaigns":
        yield [name for name, _ in CAMPAIGN_COLUMNS]
        for effect in view.campaigns:
            yield [cell(effect) for _, cell in CAMPAIGN_COLUMNS]
    else:
        raise KeyError(table)


def to_csv(view: AnalyticsView, table: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows(view, table))
    return out.getvalue()
