"""One syncer pass over a shop: install tasks, backfill progress, redemptions, then the metafield/tag sync.

`flask sync` runs this in a loop for every installed shop; any number of such processes may run, the
per-shop lease making sure one of them works on a shop at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import leases
from app.models.shop import Shop
from app.models.shop_jobs import BackfillJob
from app.models.sync_state import ShopSegment
from app.models.types import utcnow
from app.points import redemption
from app.shopify.errors import ShopifyAuthError, ShopifyError
from app.shopify.pacing import CostPacer
from app.sync import backfill, segments
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


def install_tasks(session: Session, shop: Shop, client: Any, pacer: CostPacer) -> list[str]:
    """First passes after an install: start the backfill and create the standard segments (once each)."""
    done = []
    if session.scalar(select(BackfillJob.id).where(BackfillJob.shop_id == shop.id).limit(1)) is None:
        backfill.start(session, shop, client, pacer)
        done.append("backfill started")
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
    """Everything the syncer does for one shop, under its lease; errors are reported, not raised."""
    result = PassResult(shop.domain)
    if not leases.acquire(session, shop.id, LEASE_NAME, holder, LEASE_TTL, now()):
        result.error = "another syncer holds the lease"
        return result
    try:
        result.installed = install_tasks(session, shop, client, pacer)
        # Backfill in slices so metafield freshness does not wait for a whole history to import.
        jobs = backfill.advance(
            session, shop, client, pacer, http, max_lines=backfill_lines, max_seconds=backfill_seconds
        )
        result.backfill = [backfill.progress(j) for j in jobs]
        if redemptions:  # `flask sync` asks every few seconds, not every pass (they scan recent orders)
            result.redemptions = {
                "resumed": redemption.resume_creating(session, shop, client, pacer),
                "used": redemption.settle_used(session, shop, now()),
                "expired": redemption.release_expired(session, shop, now()),
            }
        result.sync = sync_shop(session, shop, client, pacer, holder=holder, now=now)
    except ShopifyAuthError as exc:
        session.rollback()
        result.error = f"no usable token: {exc}"
    except ShopifyError as exc:  # Shopify trouble: the next pass tries again
        session.rollback()
        result.error = f"{type(exc).__name__}: {exc}"
        log.warning("sync pass for shop %s failed: %s", shop.id, result.error)
    finally:
        leases.release(session, shop.id, LEASE_NAME, holder)
    return result
