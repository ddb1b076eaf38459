"""Open-loop HTTP load from a separate process: requests leave on schedule, answered or not.

Latency is measured from each request's *scheduled* send time, so a stalled server shows up in the
figures instead of silently slowing the generator down (no coordinated omission).

The client is raw HTTP/1.1 over asyncio streams with keep-alive connections and requests serialised
before the clock starts: an httpx client costs about a millisecond of CPU per request, which on a loaded
2-core machine made the generator, not the server, the bottleneck above ~200 req/s.

    python -m bench.loadgen --url URL --rate 200 --seconds 10 --requests-file reqs.jsonl > result.json
Each line of the requests file: {"headers": {...}, "body_b64": "..."}; lines are used round-robin.
`--unique-header X-Shopify-Webhook-Id` gives each request its own UUID in that header (an unsigned header:
a few hundred signed bodies then make any number of distinct deliveries, without a file of gigabytes).

Each request carries `X-Request-Start: t=<microseconds since the epoch>` of its scheduled send time, as a
platform router stamps a request when it arrives (Heroku's router, nginx `t=${msec}`): the time a request
then waits for a free connection counts as queueing in front of the server, where the app can see it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
import uuid
from urllib.parse import urlsplit


def serialise(
    host: str, path: str, headers: dict, body: bytes, unique: str | None = None
) -> tuple[bytes, bytes]:
    """One POST as bytes on the wire: (head without its closing blank line, body)."""
    skip = {"host", "content-length", (unique or "").lower()}
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in skip]
    return ("\r\n".join(lines) + "\r\n").encode(), body


def stamped(wire: tuple[bytes, bytes], epoch: float, unique: bytes = b"") -> bytes:
    """The request as sent: its head, `unique` (a header line or nothing), X-Request-Start, the body."""
    head, body = wire
    return head + unique + b"X-Request-Start: t=%d\r\n\r\n" % int(epoch * 1e6) + body


def unique_line(header: str | None, prefix: str, i: int) -> bytes:
    """`header: <UUID-shaped value unique to this run and request>` as a header line, or nothing."""
    return b"" if header is None else f"{header}: {prefix}-{i:012x}\r\n".encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns (status, keep-alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep


async def exchange(conn, request: bytes) -> tuple[int, bool]:
    """Send one request on a connection and read its response."""
    conn[1].write(request)
    await conn[1].drain()
    return await read_response(conn[0])


class Pool:
    """Keep-alive connections to one server, at most `limit` open."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0
        self.freed = asyncio.Condition()

    async def get(self, fresh: bool = False):
        """(connection, reused): an idle keep-alive connection, or a new one (`fresh` forces a new one)."""
        async with self.freed:
            while not (self.idle and not fresh) and self.open >= self.limit:
                if fresh and self.idle:  # make room: drop an idle connection instead of waiting
                    self.idle.pop()[1].close()
                    self.open -= 1
                    break
                await self.freed.wait()
            if self.idle and not fresh:
                return self.idle.pop(), True
            self.open += 1
        try:
            return await asyncio.open_connection(self.host, self.port), False
        except OSError:
            async with self.freed:
                self.open -= 1
                self.freed.notify()
            raise

    async def put(self, conn, reusable: bool) -> None:
        async with self.freed:
            if reusable:
                self.idle.append(conn)
            else:
                self.open -= 1
                conn[1].close()
            self.freed.notify()


async def run(
    url: str,
    rate: float,
    seconds: float,
    requests: list[tuple[dict, bytes]],
    timeout: float,
    unique: str | None = None,
    connections: int = 256,
) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    wire = [serialise(f"{host}:{port}", parts.path or "/", h, b, unique) for h, b in requests]
    prefix = str(uuid.uuid4())[:23]  # the first four groups of a UUID; the request number is the fifth
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    pool = Pool(host, port, limit=connections)
    start = time.perf_counter() + 0.2
    epoch_offset = time.time() - time.perf_counter()

    async def one(i: int) -> None:
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = None
        request = stamped(wire[i % len(wire)], scheduled + epoch_offset, unique_line(unique, prefix, i))
        try:
            async with asyncio.timeout(timeout):
                conn, reused = await pool.get()
                try:
                    status, keep = await exchange(conn, request)
                except (OSError, asyncio.IncompleteReadError):
                    if not reused:
                        raise
                    # The server closed this idle keep-alive connection (gunicorn's keepalive is 2 s) as we
                    # reused it: send again on a new one, as HTTP clients do (a webhook id is deduplicated).
                    await pool.put(conn, False)
                    conn = None
                    conn, _ = await pool.get(fresh=True)
                    status, keep = await exchange(conn, request)
            key = str(status)
            await pool.put(conn, keep)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            key = type(exc).__name__
            if conn is not None:
                await pool.put(conn, False)
        latencies.append((time.perf_counter() - scheduled) * 1000.0)
        statuses[key] = statuses.get(key, 0) + 1

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.perf_counter() - start
    for _, writer in pool.idle:
        writer.close()
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
    parser.add_argument("--unique-header", help="a header given a fresh UUID-shaped value per request")
    parser.add_argument("--connections", type=int, default=256, help="open connections at most")
    args = parser.parse_args(argv)
    requests = []
    with open(args.requests_file) as fh:
        for line in fh:
            item = json.loads(line)
            requests.append((item["headers"], base64.b64decode(item["body_b64"])))
    result = asyncio.run(
        run(args.url, args.rate, args.seconds, requests, args.timeout, args.unique_header, args.connections)
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
