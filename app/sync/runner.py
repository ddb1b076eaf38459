"""One syncer pass over a shop: install tasks, backfill progress, redemptions, then the metafield/tag sync.

`flask sync` runs this in a loop for every installed shop; any number of such processes may run, the
per-shop lease making sure one of them works on a shop at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.jobs import leases, task_backoff
from app.members import mirror
from app.models.shop import Shop
from app.models.shop_jobs import BackfillJob
from app.models.sync_state import ShopSegment
from app.models.types import utcnow
from app.points import redemption
from app.shopify.errors import ShopifyAuthError
from app.shopify.pacing import CostPacer
from app.shops.namespace import learn as learn_namespace
from app.sync import backfill, locations, segments
from app.sync.syncer import LEASE_NAME, LEASE_TTL, SyncReport, sync_shop

log = logging.getLogger(__name__)


@dataclass
class PassResult:
    """What a pass over one shop did (printed by `flask sync -v`)."""

    shop: str
    sync: SyncReport | None = None
    installed: list[str] = field(default_factory=list)
    redemptions: dict[str, int] = field(default_factory=dict)
    backfill: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failed: dict[str, str] = field(default_factory=dict)  # task -> exception type, for tasks that failed


def install_tasks(session: Session, shop: Shop, client: Any, pacer: CostPacer) -> list[str]:
    """First passes after an install: start the backfill, learn the app's metafield namespace, then create
    the standard segments (once each; they wait for the namespace, which their filters name)."""
    done = []
    if session.scalar(select(BackfillJob.id).where(BackfillJob.shop_id == shop.id).limit(1)) is None:
        backfill.start(session, shop, client, pacer)
        done.append("backfill started")
    if shop.app_namespace is None and learn_namespace(session, shop, client, pacer) is None:
        done.append("segments wait for the app namespace")
        return done
    if session.scalar(select(ShopSegment.id).where(ShopSegment.shop_id == shop.id).limit(1)) is None:
        rows = segments.install_standard_segments(session, shop, client, pacer)
        done.append(f"{sum(r.status == 'created' for r in rows)}/{len(rows)} segments created")
    return done


def run_pass(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    http: httpx.Client,
    *,
    holder: str,
    now: Callable[[], datetime] = utcnow,
    backfill_lines: int | None = 20_000,
    backfill_seconds: float | None = 2.0,
    redemptions: bool = True,
) -> PassResult:
    """Everything the syncer does for one shop, under its lease; errors are reported, not raised.

    Each task runs on its own: one that fails (a database error, an answer from Shopify the code did not
    expect) is logged with its exception type and the shop id, waits out a growing delay for this shop
    (app/jobs/task_backoff.py, shown on the sync-health page), and the other tasks still run.
    """
    result = PassResult(shop.domain)
    if not leases.acquire(session, shop.id, LEASE_NAME, holder, LEASE_TTL, now()):
        result.error = "another syncer holds the lease"
        return result

    def install() -> None:
        result.installed = install_tasks(session, shop, client, pacer)

    def backfill_slice() -> None:
        # Backfill in slices so metafield freshness does not wait for a whole history to import.
        jobs = backfill.advance(
            session, shop, client, pacer, http, max_lines=backfill_lines, max_seconds=backfill_seconds
        )
        result.backfill = [backfill.progress(j) for j in jobs]

    def reward_codes() -> None:
        result.redemptions = {
            "resumed": redemption.resume_creating(session, shop, client, pacer),
            "used": redemption.settle_used(session, shop, now()),
            "expired": redemption.release_expired(session, shop, now()),
        }

    def store_names() -> None:
        # Store names first: members whose purchases just got a name are projected in this same pass.
        refresh = timedelta(seconds=current_app.config["SETTINGS"].location_refresh_seconds)
        locations.resolve_locations(session, shop, client, pacer, now(), refresh)

    def metafields() -> None:
        result.sync = sync_shop(session, shop, client, pacer, holder=holder, now=now)

    def metafield_mirror() -> None:
        # The merchant switched the `tsunagu` mirror on: its definitions go first, the values with the sync.
        mirror.ensure_definitions(session, shop, client, pacer)

    tasks: list[tuple[str, Callable[[], None]]] = [("install", install), ("backfill", backfill_slice)]
    if redemptions:  # `flask sync` asks every few seconds, not every pass (they scan recent orders)
        tasks.append(("redemptions", reward_codes))
    tasks.append(("locations", store_names))
    if mirror.is_on(shop):
        tasks.append(("mirror", metafield_mirror))
    tasks.append(("sync", metafields))
    try:
        _run_tasks(session, shop, tasks, result, now)
    finally:
        try:
            leases.release(session, shop.id, LEASE_NAME, holder)
        except SQLAlchemyError as exc:  # database away: the lease runs out by itself
            session.rollback()
            log.warning("sync lease of shop %s not released: %s", shop.id, type(exc).__name__)
    return result


def _run_tasks(
    session: Session,
    shop: Shop,
    tasks: list[tuple[str, Callable[[], None]]],
    result: PassResult,
    now: Callable[[], datetime],
) -> None:
    """Run the tasks that are due, each contained: a failure is recorded and backs off, the rest go on."""
    failed = task_backoff.failures(session, shop.id)
    session.commit()  # end the read: nothing stays open into a task's Shopify calls
    for name, task in tasks:
        previous = failed.get(name)
        if previous is not None and not task_backoff.is_due(previous, now()):
            result.failed[name] = f"{previous.error} (waiting)"
            continue
        try:
            task()
        except (
            ShopifyAuthError
        ) as exc:  # no token: every task would fail the same way until the merchant acts
            session.rollback()
            result.error = f"no usable token: {exc}"
            return
        except Exception as exc:  # any other failure is this task's, for this shop only
            session.rollback()
            result.failed[name] = type(exc).__name__
            try:
                failure = task_backoff.record_failure(session, shop.id, name, exc, now(), previous)
                retry = f"next try at {failure.retry_at:%H:%M:%S}"
            except SQLAlchemyError:  # the database itself is away: the next pass tries again
                session.rollback()
                retry = "not recorded"
            log.warning("sync task %s for shop %s failed: %s (%s)", name, shop.id, type(exc).__name__, retry)
            continue
        if previous is not None:
            task_backoff.clear(session, shop.id, name)
    if result.failed and result.error is None:
        result.error = "; ".join(f"{name}: {error}" for name, error in result.failed.items())
