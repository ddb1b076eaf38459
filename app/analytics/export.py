"""The analytics tables as CSV: one file per table, the same figures the page shows (shares as 0-1
fractions with four decimals, money in the shop currency, an empty cell for a figure that does not exist)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from app.analytics.queries import RETENTION_MONTHS
from app.analytics.view import AnalyticsView

TABLES = ("f2", "frequency", "cohorts", "rfm", "ltv")


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


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
    else:
        raise KeyError(table)


def to_csv(view: AnalyticsView, table: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows(view, table))
    return out.getvalue()
