"""Install backfill: bulk-export customers and orders, stream the JSONL through the webhook path, resumably.

https://shopify.dev/docs/api/usage/bulk-operations/queries: `bulkOperationRunQuery` starts an export, Shopify
announces the end with `bulk_operations/finish` (recorded on the job by app/sync/bulk_finished.py) and we also
poll `bulkOperation(id)` in case that webhook is late. The result file is streamed line by line, never held
whole. Each chunk of lines is applied and `lines_consumed` advanced in the same transaction, so a restart
resumes after the last committed chunk; the purchase services are idempotent by order and `updated_at`, so
webhooks for the same orders arriving meanwhile credit nothing twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent, PurchaseEvent
from app.models.shop import Shop
from app.models.shop_jobs import BackfillJob
from app.models.types import utcnow
from app.points.purchases import apply_purchase
from app.shopify.errors import ShopifyUserErrors
from app.shopify.graphql import load_document
from app.shopify.pacing import CostPacer, paced_execute
from app.shopify.payloads.bulk import customer_event, order_event
from app.shopify.payloads.rest import NormaliseError

log = logging.getLogger(__name__)

KINDS = ("customers", "orders")  # customers first: members exist before their orders credit them
CHUNK = 500  # lines applied per transaction
DONE, FAILED = "done", "failed"
OPEN_STATES = ("pending", "running", "downloading")


def start(
    session: Session, shop: Shop, client: Any, pacer: CostPacer, kinds: tuple[str, ...] = KINDS
) -> list[BackfillJob]:
    """Create the shop's backfill jobs (once per kind) and start their bulk operations. Commits."""
    jobs = []
    for kind in kinds:
        job = session.scalar(
            select(BackfillJob)
            .where(BackfillJob.shop_id == shop.id, BackfillJob.kind == kind, BackfillJob.status != FAILED)
            .order_by(BackfillJob.id.desc())
        )
        if job is None:
            job = BackfillJob(shop_id=shop.id, kind=kind, status="pending", detail={})
            session.add(job)
            session.commit()
        if job.status == "pending":
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
    job.bulk_operation_id, job.status, job.error = op["id"], "running", None
    session.commit()


def poll(session: Session, job: BackfillJob, client: Any, pacer: CostPacer) -> None:
    """Check a running export; when Shopify completed it, note the result URL and the total. Commits."""
    data = paced_execute(client, pacer, "bulk_operation", {"id": job.bulk_operation_id}, expected_cost=2)
    op = data.get("bulkOperation") or {}
    status = op.get("status")
    if status == "COMPLETED":
        job.result_url = op.get("url")
        job.total = int(op.get("rootObjectCount") or 0)
        job.status = "downloading" if job.result_url else DONE
        if job.status == DONE:
            job.finished_at = utcnow()
    elif status in ("FAILED", "CANCELED", "EXPIRED"):
        job.status, job.error = FAILED, f"bulk operation {status}: {op.get('errorCode')}"
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
    with http.stream("GET", job.result_url, headers=headers) as response:
        if response.status_code == 416:  # nothing after our offset: the file was applied whole
            finished = True
            lines = iter(())
        else:
            response.raise_for_status()
            resumed = response.status_code == 206
            first = job.lines_consumed + 1 if resumed else 1
            lines = _lines(response, first, offset if resumed else 0)
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
                _apply(session, shop, job.kind, event, now())
            applied += 1
            if applied % CHUNK == 0:
                _checkpoint(session, job, last, offset, roots, errors, started, start_lines, clock)
                roots = 0
        else:
            finished = True
    if finished:
        job.status, job.finished_at = DONE, now()
    _checkpoint(session, job, last, offset, roots, errors, started, start_lines, clock)
    return applied


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


def _apply(session: Session, shop: Shop, kind: str, event: Any, now: datetime) -> None:
    if kind == "orders":
        apply_purchase(session, shop, event, now=now)
    else:
        apply_customer(session, shop, event, now=now)


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
        "eta_s": round(remaining / rate, 1) if rate > 0 and job.status != DONE else 0,
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
        select(BackfillJob).where(BackfillJob.shop_id == shop.id, BackfillJob.status.in_(OPEN_STATES))
    ).all()
    for job in sorted(jobs, key=lambda j: KINDS.index(j.kind) if j.kind in KINDS else len(KINDS)):
        if job.status == "pending":
            _run_query(session, job, client, pacer)
        if job.status == "running":
            poll(session, job, client, pacer)
        if job.status == "downloading":
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
    }
