"""The README's performance table: the newest figures of each benchmark from bench/results/, as Markdown.

    python -m bench.report [full|quick]
Benchmarks may have been run separately (`--only B2`); each one's newest run is taken.
"""

from __future__ import annotations

import json
import sys

from bench.common import RESULTS_DIR


def newest_figures(size: str) -> list[dict]:
    """Per benchmark, the figures of its newest run of this size."""
    chosen: dict[str, tuple[str, list[dict]]] = {}
    for path in sorted(RESULTS_DIR.glob(f"bench-{size}-*.json")):
        figures = json.loads(path.read_text())["figures"]
        for bench in {f["bench"] for f in figures}:
            chosen[bench] = (path.name, [f for f in figures if f["bench"] == bench])
    return [f for bench in sorted(chosen) for f in chosen[bench][1]]


def markdown(figures: list[dict]) -> str:
    rows = [
        "| bench | figure | value | same-run baseline | ratio | goal | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        baseline = f"{f['baseline']:,.2f} ({f['baseline_name']})" if f["baseline"] is not None else "-"
        ratio = f"{f['ratio']:.2f}x" if f.get("ratio") is not None else "-"
        result = {True: "pass", False: "**miss**", None: "-"}[f["passed"]]
        rows.append(
            f"| {f['bench']} | {f['name']} | {f['value']:,.2f} {f['unit']} | {baseline} | {ratio} | "
            f"{f['goal'] or '-'} | {result} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(markdown(newest_figures(args[0] if args else "full")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
