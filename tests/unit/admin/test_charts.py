"""Server-side SVG charts: accessible, escaped, proportional."""

from __future__ import annotations

import re
from decimal import Decimal

from app.admin.charts import Series, hbar_chart, share_bar, stacked_columns


def _widths(svg: str) -> list[float]:
    return [
        float(w)
        for w in re.findall(r'<rect class="ts-chart-bar[^"]*" x="[^"]+" y="[^"]+" width="([0-9.]+)"', svg)
    ]


def test_bars_are_proportional_and_labelled():
    svg = str(
        hbar_chart("LTV", [("gold", Decimal(300), "300"), ("silver", Decimal(100), "100"), ("none", 0, "0")])
    )
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title id=" in svg
    gold, silver, none = _widths(svg)
    assert abs(gold / silver - 3) < 0.01 and none == 0


def test_text_is_escaped():
    svg = str(hbar_chart("<b>", [("<script>x</script>", 1, "1")]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg


def test_stacked_columns_stack_each_series_and_round_the_axis():
    svg = str(
        stacked_columns(
            "Spend", ["1月", "2月"], [Series("EC", [100, 0], "a"), Series("店舗", [50, 230], "b")]
        )
    )
    assert svg.count('class="ts-chart-bar a"') == 2  # one column segment + the legend swatch
    assert svg.count('class="ts-chart-bar b"') == 3
    assert ">250<" in svg  # axis maximum: the round number above the largest total (230)
    assert "1月" in svg and "店舗" in svg


def test_share_bar_shows_percentages():
    svg = str(share_bar("Mix", [("omni", 1, "x"), ("store", 3, "y")]))
    assert "omni 25.0%" in svg and "store 75.0%" in svg


def test_empty_data_still_draws():
    assert "<svg" in str(stacked_columns("x", [], []))
    assert "<svg" in str(hbar_chart("x", []))
