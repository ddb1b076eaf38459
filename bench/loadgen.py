"""Open-loop HTTP load from a separate process: requests leave on schedule, answered or not.

Latency is measured from each request's *scheduled* send time, so a stalled server shows up in the
figures instead of silently slowing the generator down (no coordinated omission).

    python -m bench.loadgen --url URL --rate 200 --seconds 10 --requests-file reqs.jsonl > result.json
Each line of the requests file: {"headers": {...}, "body_b64": "..."}; lines are used round-robin.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time

import httpx


async def run(
    url: str, rate: float, seconds: float, requests: list[tuple[dict, bytes]], timeout: float
) -> dict:
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            headers, body = requests[i % len(requests)]
            try:
                response = await client.post(url, content=body, headers=headers)
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            latencies.append((time.perf_counter() - scheduled) * 1000.0)
            statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    return {
        "rate": rate,
        "sent": total,
        "elapsed_s": elapsed,
        "latencies_ms": latencies,
        "statuses": statuses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests-file", required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    requests = []
    with open(args.requests_file) as fh:
        for line in fh:
            item = json.loads(line)
            requests.append((item["headers"], base64.b64decode(item["body_b64"])))
    result = asyncio.run(run(args.url, args.rate, args.seconds, requests, args.timeout))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
