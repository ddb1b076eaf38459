"""The benchmark table: each figure beside a same-run baseline, the ratio, the goal, pass/fail."""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured figure; `ratio` = figure / baseline, comparable even on a noisy machine."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""
    passed: bool | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency some request really had)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def render_table(figures: list[Figure]) -> str:
    """A plain-text table for the terminal and the README."""
    rows = [("bench", "figure", "value", "baseline", "ratio", "goal", "result")]
    for f in figures:
        rows.append(
            (
                f.bench,
                f.name,
                f"{f.value:,.2f} {f.unit}",
                f"{f.baseline:,.2f} ({f.baseline_name})" if f.baseline is not None else "-",
                f"{f.ratio:.2f}x" if f.ratio is not None else "-",
                f.goal or "-",
                {True: "pass", False: "FAIL", None: "-"}[f.passed],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(figures: list[Figure], size: str) -> Path:
    """Write the run as JSON under bench/results/ (gitignored) and return the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"bench-{size}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    payload = {
        "size": size,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "figures": [dict(asdict(f), ratio=f.ratio) for f in figures],
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS_DIR / f"latest-{size}.json").write_text(path.read_text())
    return path
