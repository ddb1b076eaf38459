"""B4's measured process: stream bulk JSONL over HTTP into the ledger and history, or merely parse it.

    python -m bench.backfill_child --mode apply --customers-url U --orders-url U   (needs DATABASE_URL)
    python -m bench.backfill_child --mode parse --customers-url U --orders-url U
    ... --profile out.prof   (apply under cProfile; `python -m pstats out.prof` to read it)
Prints one JSON object: seconds per file, lines, and the process's peak RSS. A process of its own, so the
RSS is the backfill's and nothing else's. Progress lines (lines, rate) go to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import sys
import time
from pathlib import Path

import httpx

SLICE = 5000  # lines per consume() call, as `flask backfill run` slices (each call resumes after the last)


def rusage_rss_mb() -> float:
    """getrusage's peak RSS of this process (kB on Linux); may include a big parent's peak, see below."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries the parent's peak
    across fork and exec into it, so a child of a big benchmark process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_only(urls: list[str]) -> dict:
    """The floor: the same HTTP stream, every line through json.loads, nothing else."""
    out: dict = {"seconds": [], "lines": 0}
    with httpx.Client(timeout=None) as http:
        for url in urls:
            started = time.perf_counter()
            with http.stream("GET", url) as response:
                response.raise_for_status()
                for raw in response.iter_lines():
                    if raw.strip():
                        json.loads(raw)
                        out["lines"] += 1
            out["seconds"].append(time.perf_counter() - started)
    return out


def apply(shop_domain: str, urls: list[str], totals: list[int], budget: float) -> dict:
    """The install backfill's consume step for a customers job, then an orders job, as the app runs it.

    With a `budget` (seconds per file) each file is consumed in resumable slices until it is done or the
    budget is spent: the figures then come from that sample.
    """
    from app import create_app
    from app.config import load_settings
    from app.extensions import db
    from app.models.shop import Shop
    from app.models.shop_jobs import BackfillJob, BackfillStatus
    from app.sync import backfill

    app = create_app(load_settings(dict(os.environ)))
    out: dict = {"seconds": [], "lines": 0, "jobs": []}
    with app.app_context(), httpx.Client(timeout=None) as http:
        session = db.session
        shop = Shop(domain=shop_domain, name="Bench", currency="JPY", timezone="Asia/Tokyo")
        session.add(shop)
        session.commit()
        for kind, url, total in zip(("customers", "orders"), urls, totals, strict=True):
            job = BackfillJob(
                shop_id=shop.id, kind=kind, status="downloading", result_url=url, total=total, detail={}
            )
            session.add(job)
            session.commit()
            started = time.perf_counter()
            applied = 0
            while job.status != BackfillStatus.DONE:
                applied += backfill.consume(session, shop, job, http, max_lines=SLICE)
                elapsed = time.perf_counter() - started
                if applied % (SLICE * 50) < SLICE or job.status == BackfillStatus.DONE:
                    print(
                        f"  {kind}: {applied:,} of {total:,} in {elapsed:.0f} s", file=sys.stderr, flush=True
                    )
                if budget and elapsed > budget:
                    break
            out["lines"] += applied
            out["seconds"].append(time.perf_counter() - started)
            out["jobs"].append(
                {
                    "kind": kind,
                    "status": job.status,
                    "lines": applied,
                    "done": job.done,
                    "total": total,
                    "detail": job.detail,
                }
            )
        db.engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("apply", "parse"), required=True)
    parser.add_argument("--shop", default="bench-backfill.myshopify.com")
    parser.add_argument("--customers-url", required=True)
    parser.add_argument("--orders-url", required=True)
    parser.add_argument("--customers-total", type=int, default=0)
    parser.add_argument("--orders-total", type=int, default=0)
    parser.add_argument("--budget-seconds", type=float, default=0.0, help="per file; 0 = to the end")
    parser.add_argument("--profile", default="", help="write a cProfile of the apply run here")
    args = parser.parse_args(argv)
    urls = [args.customers_url, args.orders_url]
    if args.mode == "parse":
        result = parse_only(urls)
    else:
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        result = apply(args.shop, urls, [args.customers_total, args.orders_total], args.budget_seconds)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    result["max_rss_mb"] = peak_rss_mb()
    result["ru_maxrss_mb"] = rusage_rss_mb()
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
