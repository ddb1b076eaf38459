"""Install backfill: bulk-export customers and orders, stream the JSONL into members and points, resumably.

https://shopify.dev/docs/api/usage/bulk-operations/queries: `bulkOperationRunQuery` starts an export, Shopify
announces the end with `bulk_operations/finish` (recorded on the job by app/sync/bulk_finished.py) and we also
poll `bulkOperation(id)` in case that webhook is late. The result file is streamed line by line, never held
whole. Each chunk of lines is applied set-based (app/points/ingest/orders.py, app/customers/ingest.py: the
same result as the webhook path, in a few statements per chunk and one replay per member) and `lines_consumed`
advanced in the same transaction, so a restart resumes after the last committed chunk; ingest is idempotent by
order and `updated_at`, so webhooks for the same orders arriving meanwhile credit nothing twice. A chunk that
fails as a whole is applied again row by row, so one bad row is skipped and counted, not fatal.

Order chunks store purchases and refunds and mark their members' replay as owed (`next_due_at`, which the
daily upkeep also honours) instead of replaying each member once per chunk it appears in: the orders of a
member are spread over the whole export. When the file is applied, the marked members are replayed once,
in committed batches (`replay_from` in the job's detail is the resume point); only then is the job done.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.customers.events import apply_customer
from app.customers.ingest import ingest_customers
from app.domain.events import CustomerEvent, PurchaseEvent
from app.models.shop import Shop
from app.models.shop_jobs import BACKFILL_OPEN, BackfillJob, BackfillStatus
from app.models.types import utcnow
from app.points.ingest.orders import ingest_orders, owed_members, replay_members
from app.points.ingest.rows import refresh_statistics
from app.points.purchases import apply_purchase
from app.shopify.crypto import TokenDecryptError, cipher_for
from app.shopify.errors import ShopifyUnavailable, ShopifyUserErrors
from app.shopify.graphql import load_document
from app.shopify.pacing import CostPacer, paced_execute
from app.shopify.payloads.bulk import customer_event, order_event
from app.shopify.payloads.rest import NormaliseError

log = logging.getLogger(__name__)

KINDS = ("customers", "orders")  # customers first: members exist before their orders credit them
CHUNK = 500  # lines applied per transaction
REPLAY_BATCH = 2_000  # members replayed per transaction once the orders are stored
ENCRYPTED = "enc1:"  # prefix of an encrypted result URL in BackfillJob.result_url


def _url_aad(job: BackfillJob) -> bytes:
    return f"backfill_jobs|{job.shop_id}|{job.id}|result_url".encode()


def set_result_url(job: BackfillJob, url: str | None) -> None:
    """Keep the result URL encrypted like the tokens: it is signed and grants the shop's whole export
    to whoever holds it until it expires (https://shopify.dev/docs/api/usage/bulk-operations/queries)."""
    if not url:
        job.result_url = None
        return
    cipher = cipher_for(current_app.config["SETTINGS"].token_encryption_keys)
    job.result_url = ENCRYPTED + base64.b64encode(cipher.encrypt(url, _url_aad(job))).decode()


def result_url(job: BackfillJob) -> str | None:
    """The result URL in clear, for the download only; never log or store what this returns."""
    stored = job.result_url
    if not stored or not stored.startswith(ENCRYPTED):
        return stored  # none yet, or a row written before URLs were encrypted
    cipher = cipher_for(current_app.config["SETTINGS"].token_encryption_keys)
    try:
        return cipher.decrypt(base64.b64decode(stored.removeprefix(ENCRYPTED)), _url_aad(job))
    except (TokenDecryptError, binascii.Error, ValueError):
        return None  # made under a key no longer configured: the export is run again


def safe_url(url: str) -> str:
    """The URL without its query string (where signed URLs keep their signature): fit for a log line."""
    return url.split("?", 1)[0].split("#", 1)[0]


def start(
    session: Session, shop: Shop, client: Any, pacer: CostPacer, kinds: tuple[str, ...] = KINDS
) -> list[BackfillJob]:
    """Create the shop's backfill jobs (once per kind) and start their bulk operations. Commits."""
    jobs = []
    for kind in kinds:
        job = session.scalar(
            select(BackfillJob)
            .where(
                BackfillJob.shop_id == shop.id,
                BackfillJob.kind == kind,
                BackfillJob.status != BackfillStatus.FAILED,
            )
            .order_by(BackfillJob.id.desc())
        )
        if job is None:
            job = BackfillJob(shop_id=shop.id, kind=kind, status=BackfillStatus.PENDING, detail={})
            session.add(job)
            session.commit()
        if job.status == BackfillStatus.PENDING:
            _run_query(session, job, client, pacer)
        jobs.append(job)
    return jobs


def _run_query(session: Session, job: BackfillJob, client: Any, pacer: CostPacer) -> None:
    """Ask Shopify for the export; a refusal (another export still running) leaves the job pending."""
    try:
        data = paced_execute(
            client, pacer, "bulk_operation_run_query", {"query": load_document(f"bulk_{job.kind}")}
        )
    except ShopifyUserErrors as exc:
        job.error = "; ".join(str(e.get("message")) for e in exc.user_errors)[:1000]
        session.commit()
        return
    op = data["bulkOperationRunQuery"]["bulkOperation"]
    job.bulk_operation_id, job.status, job.error = op["id"], BackfillStatus.RUNNING, None
    session.commit()


def poll(session: Session, job: BackfillJob, client: Any, pacer: CostPacer) -> None:
    """Check a running export; when Shopify completed it, note the result URL and the total. Commits."""
    data = paced_execute(client, pacer, "bulk_operation", {"id": job.bulk_operation_id}, expected_cost=2)
    op = data.get("bulkOperation") or {}
    status = op.get("status")
    if status == "COMPLETED":
        session.flush()  # the job's id is part of the URL's associated data
        set_result_url(job, op.get("url"))
        job.total = int(op.get("rootObjectCount") or 0)
        job.status = BackfillStatus.DOWNLOADING if job.result_url else BackfillStatus.DONE
        if job.status == BackfillStatus.DONE:
            job.finished_at = utcnow()
    elif status in ("FAILED", "CANCELED", "EXPIRED"):
        job.status, job.error = BackfillStatus.FAILED, f"bulk operation {status}: {op.get('errorCode')}"
    session.commit()


def consume(
    session: Session,
    shop: Shop,
    job: BackfillJob,
    http: httpx.Client,
    *,
    max_lines: int | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = utcnow,
) -> int:
    """Stream the result file from `lines_consumed` on, applying each row; returns lines applied now.

    `max_lines` and `max_seconds` stop early (the syncer works in short slices so metafields are not
    held up; operators may run it in slices); the job stays resumable. A resumed slice asks for the rest
    of the file from the byte after the last applied line (HTTP Range, which Shopify's result URLs
    serve); a server that ignores the Range gets the old behaviour of skipping the lines already applied.
    """
    started, start_lines = clock(), job.lines_consumed
    deadline = started + max_seconds if max_seconds is not None else None
    applied = roots = 0
    last = job.lines_consumed
    offset = int((job.detail or {}).get("bytes_consumed", 0)) if job.lines_consumed else 0
    errors = int((job.detail or {}).get("errors", 0))
    finished = False
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    url = result_url(job)
    if url is None:  # unreadable (the key that encrypted it was retired): ask Shopify for a new export
        job.status, job.error, job.bulk_operation_id = (
            BackfillStatus.PENDING,
            "result URL unreadable; export again",
            None,
        )
        session.commit()
        return 0
    with _download(http, url, headers) as response:
        if response.status_code == 416:  # nothing after our offset: the file was applied whole
            finished = True
            lines: Iterator[tuple[int, bytes, int]] = iter(())
        else:
            _raise_for_status(response, url)
            resumed = response.status_code == 206
            first = job.lines_consumed + 1 if resumed else 1
            lines = _lines(response, first, offset if resumed else 0)
        chunk: list[Any] = []
        for number, raw, end in lines:
            if number <= job.lines_consumed:
                continue  # applied before a restart (the server sent the whole file)
            if (max_lines is not None and applied >= max_lines) or (deadline and clock() >= deadline):
                break
            last, offset = number, end
            if not raw.strip():
                continue
            row = json.loads(raw)
            roots += "__parentId" not in row
            try:
                event = _event(job.kind, row, shop.domain)
            except NormaliseError as exc:  # one unusable row must not stop the backfill
                errors += 1
                log.warning("backfill %s line %s skipped: %s", job.id, number, exc)
            else:
                chunk.append(event)
            applied += 1
            if applied % CHUNK == 0:
                errors += _apply(session, shop, job.id, job.kind, chunk, now())
                chunk = []
                _checkpoint(session, job, last, offset, roots, errors, started, start_lines, clock)
                _analyze_when_grown(session, job, "analyzed_lines", last)
                roots = 0
        else:
            finished = True
    errors += _apply(session, shop, job.id, job.kind, chunk, now())
    _checkpoint(session, job, last, offset, roots, errors, started, start_lines, clock)
    if finished and job.kind == "orders":
        finished = _replay_owed(session, shop, job, deadline, clock, now())
    if finished:
        job.status, job.finished_at = BackfillStatus.DONE, now()
        job.detail = {**(job.detail or {}), "eta_s": 0}
        session.commit()
    return applied


def _replay_owed(
    session: Session,
    shop: Shop,
    job: BackfillJob,
    deadline: float | None,
    clock: Callable[[], float],
    at: datetime,
) -> bool:
    """Replay the members the order chunks left owed, in committed batches; False if the slice ran out."""
    while deadline is None or clock() < deadline:
        detail = job.detail or {}
        ids = owed_members(session, shop, int(detail.get("replay_from", 0)), at, REPLAY_BATCH)
        if not ids:
            return True
        replay_members(session, shop, set(ids), at)
        replayed = int(detail.get("replayed", 0)) + len(ids)
        job.detail = {**detail, "replay_from": ids[-1], "replayed": replayed}
        session.commit()
        _analyze_when_grown(session, job, "analyzed_members", replayed)
    return False


def _analyze_when_grown(session: Session, job: BackfillJob, key: str, position: int) -> None:
    """Fresh statistics each time the position doubled: a handful of ANALYZE runs per install."""
    if position < 2 * int((job.detail or {}).get(key, CHUNK // 2)):
        return
    if not refresh_statistics(session):
        log.warning("backfill %s could not refresh table statistics", job.id)
    job.detail = {**(job.detail or {}), key: position}
    session.commit()


@contextlib.contextmanager
def _download(http: httpx.Client, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
    """Stream the result file; httpx's errors quote the signed URL, so they are replaced by ours."""
    try:
        with http.stream("GET", url, headers=headers) as response:
            yield response
    except httpx.HTTPError as exc:
        raise ShopifyUnavailable(
            f"bulk result download failed ({type(exc).__name__}) at {safe_url(url)}"
        ) from None


def _raise_for_status(response: httpx.Response, url: str) -> None:
    if response.status_code >= 400:
        raise ShopifyUnavailable(
            f"bulk result download answered HTTP {response.status_code} at {safe_url(url)}",
            status=response.status_code,
        )


def _lines(response: httpx.Response, first: int, offset: int) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line without its newline, byte offset just after it), streamed in chunks."""
    number, buffer = first, b""
    for chunk in response.iter_bytes():
        buffer += chunk
        start = 0
        while (cut := buffer.find(b"\n", start)) >= 0:
            offset += cut + 1 - start
            yield number, buffer[start:cut], offset
            number, start = number + 1, cut + 1
        buffer = buffer[start:]
    if buffer:
        yield number, buffer, offset + len(buffer)


def _event(kind: str, row: dict[str, Any], shop_domain: str) -> PurchaseEvent | CustomerEvent:
    """Normalise before touching the database, so a bad row needs no savepoint to be skipped."""
    return order_event(row, shop_domain) if kind == "orders" else customer_event(row, shop_domain)


def _apply(session: Session, shop: Shop, job_id: int, kind: str, events: Sequence[Any], now: datetime) -> int:
    """Apply a chunk's events set-based; if that fails, row by row. Returns the rows that failed."""
    if not events:
        return 0
    try:
        with session.begin_nested():
            if kind == "orders":
                ingest_orders(session, shop, events, now, replay=False)
            else:
                ingest_customers(session, shop, events, now)
        return 0
    except Exception as exc:
        log.warning("backfill %s chunk failed (%s): applying its rows one by one", job_id, type(exc).__name__)
    failed = 0
    for event in events:
        try:
            with session.begin_nested():
                if kind == "orders":
                    apply_purchase(session, shop, event, now=now)
                else:
                    apply_customer(session, shop, event, now=now)
        except Exception as exc:  # one row must not stop the backfill; counted with the unusable rows
            failed += 1
            log.warning(
                "backfill %s row %s skipped: %s", job_id, getattr(event, "source_id", "?"), type(exc).__name__
            )
    return failed


def _checkpoint(
    session: Session,
    job: BackfillJob,
    lines: int,
    offset: int,
    roots: int,
    errors: int,
    started: float,
    start_lines: int,
    clock: Callable[[], float],
) -> None:
    """Commit the applied rows together with the resume point and progress figures."""
    job.lines_consumed = lines
    job.done = (job.done or 0) + roots
    elapsed = max(clock() - started, 1e-6)
    rate = (lines - start_lines) / elapsed
    remaining = max((job.total or 0) - job.done, 0)
    job.detail = {
        **(job.detail or {}),
        "errors": errors,
        "bytes_consumed": offset,
        "rate_per_s": round(rate, 1),
        "eta_s": round(remaining / rate, 1) if rate > 0 and job.status != BackfillStatus.DONE else 0,
    }
    session.commit()


def advance(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    http: httpx.Client,
    *,
    max_lines: int | None = None,
    max_seconds: float | None = None,
) -> list[BackfillJob]:
    """Move every open job of the shop one step: start, poll, or stream (customers before orders)."""
    jobs = session.scalars(
        select(BackfillJob).where(BackfillJob.shop_id == shop.id, BackfillJob.status.in_(BACKFILL_OPEN))
    ).all()
    for job in sorted(jobs, key=lambda j: KINDS.index(j.kind) if j.kind in KINDS else len(KINDS)):
        if job.status == BackfillStatus.PENDING:
            _run_query(session, job, client, pacer)
        if job.status == BackfillStatus.RUNNING:
            poll(session, job, client, pacer)
        if job.status == BackfillStatus.DOWNLOADING:
            consume(session, shop, job, http, max_lines=max_lines, max_seconds=max_seconds)
    return list(jobs)


def progress(job: BackfillJob) -> dict[str, Any]:
    """What the dashboard shows: done/total, rate, ETA, state."""
    detail = job.detail or {}
    return {
        "kind": job.kind,
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "rate_per_s": detail.get("rate_per_s"),
        "eta_s": detail.get("eta_s"),
        "errors": detail.get("errors", 0),
        "replayed": detail.get("replayed", 0),  # members replayed once the orders are stored
    }
