"""The CSV of a closed month: the close as made, each adjustment with its difference, the current figures.

One table for Excel: `section` says what a row is (day, month, rank as closed; adjustment, difference and
their rank rows per adjustment, keyed "<period or rank>#<sequence>"; current), the figure columns are the
same throughout. A figure a row does not have is left empty, never written as zero.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.dashboard.month_figures import COLUMNS, FIGURES, figures_of
from app.models.dashboard import MonthEndClose
from app.models.rank import MonthCloseAdjustment

HEADER = ("section", "key", *FIGURES, "members", "recorded_at", "trigger", "reason")
Row = list[Any]


def _blank_figures() -> Row:
    return [""] * len(FIGURES)


def _cells(values: dict[str, Any], fill: Any = "") -> Row:
    return [values.get(k, fill) for k in FIGURES]


def _at(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def _rank_rows(section: str, ranks: dict[str, int], suffix: str = "") -> Iterable[Row]:
    for rank in sorted(ranks):
        yield [section, f"{rank}{suffix}", *_blank_figures(), ranks[rank], "", "", ""]


def original_rows(close: MonthEndClose, tz: str) -> Iterable[Row]:
    """The close's own rows, from the figures frozen in it."""
    data = close.data
    for d in data.get("days", []):
        cells = {"outstanding": d.get("outstanding"), **{c: d[c] for c in COLUMNS if c in d}}
        yield ["day", d["date"], *_cells(cells), "", "", "", ""]
    yield ["month", close.period, *_cells(figures_of(data)), "", _at(close.closed_at, tz), close.trigger, ""]
    yield from _rank_rows("rank", data.get("ranks", {}))


def _difference_cells(adjustment: MonthCloseAdjustment) -> Row:
    compared = {k: adjustment.difference.get(k, 0) for k in FIGURES if k in adjustment.figures}
    return _cells(compared)


def adjustment_rows(adjustment: MonthCloseAdjustment, tz: str) -> Iterable[Row]:
    """An adjustment: the figures recomputed, the difference to the figures before, and the same for ranks."""
    key = f"{adjustment.period}#{adjustment.sequence}"
    when, trigger = _at(adjustment.created_at, tz), adjustment.trigger
    late = adjustment.detail.get("late_entries")
    reason = f"{adjustment.reason} ({late})" if late else adjustment.reason
    yield ["adjustment", key, *_cells(adjustment.figures), "", when, trigger, reason]
    yield ["difference", key, *_difference_cells(adjustment), "", when, trigger, reason]
    ranks = adjustment.figures.get("ranks")
    if ranks is not None:
        moved = adjustment.difference.get("ranks", {})
        suffix = f"#{adjustment.sequence}"
        yield from _rank_rows("rank_adjustment", ranks, suffix)
        yield from _rank_rows(
            "rank_difference", {r: moved.get(r, 0) for r in set(ranks) | set(moved)}, suffix
        )


def current_rows(close: MonthEndClose, adjustments: list[MonthCloseAdjustment]) -> Iterable[Row]:
    """The figures as they stand after the last adjustment (ranks: the last recomputation, if any)."""
    current: dict[str, Any] = figures_of(close.data)
    ranks = close.data.get("ranks", {})
    for adjustment in adjustments:
        current = {**current, **{k: v for k, v in adjustment.figures.items() if k in FIGURES}}
        ranks = adjustment.figures.get("ranks", ranks)
    yield ["current", close.period, *_cells(current), "", "", "", ""]
    yield from _rank_rows("rank_current", ranks)


def to_csv(rows: Iterable[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def close_csv(close: MonthEndClose, adjustments: list[MonthCloseAdjustment], tz: str) -> str:
    """The download: the original close, then (after late data) each adjustment and the current figures.

    Without adjustments this is exactly the CSV frozen at close time.
    """

    def rows() -> Iterable[Row]:
        yield from original_rows(close, tz)
        for adjustment in adjustments:
            yield from adjustment_rows(adjustment, tz)
        if adjustments:
            yield from current_rows(close, adjustments)

    return to_csv(rows())
