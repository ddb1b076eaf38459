"""`make bench`: every benchmark, each against a baseline measured in the same run; a table and a JSON file.

python -m bench            quick sizes (CI smoke)
python -m bench --full     the sizes the README reports
python -m bench --only B1  one benchmark
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from bench.common import render_table, write_results

BENCHMARKS = {
    "B1": "bench.webhook_ack",
    "B2": "bench.freshness",
    "B3": "bench.api_efficiency",
    "B4": "bench.backfill_throughput",
    "B5": "bench.dashboard_home",  # the dashboard engineer's module (issue 7)
    "B6": "bench.analytics_page",
    "Burst": "bench.burst_drain",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="full sizes (minutes) instead of the quick smoke sizes"
    )
    parser.add_argument("--only", action="append", help="run only these (e.g. --only B1)")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per Admin API call otherwise
    figures = []
    for key, module in BENCHMARKS.items():
        if args.only and key not in args.only:
            continue
        started = time.perf_counter()
        print(f"{key}: {module} ({'full' if args.full else 'quick'})", flush=True)
        figures.extend(importlib.import_module(module).run(full=args.full))
        print(f"{key}: done in {time.perf_counter() - started:.1f} s", flush=True)
    print()
    print(render_table(figures))
    path = write_results(figures, "full" if args.full else "quick")
    print(f"\nwritten to {path}")
    return 0 if all(f.passed is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
