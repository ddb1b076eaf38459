"""The analytics page's figures: computed by the worker into one AnalyticsSnapshot row per shop.

Definitions (stated on the page too). A purchase counts when it is not cancelled and not fully refunded;
net = gross - refunds. A buyer is an active member with at least one counted purchase.

- F2 conversion within N days (30/60/90) by first channel: of the buyers whose first purchase was in that
  channel at least N days ago (so the window is complete), the share whose second purchase came within N
  days of the first.
- Repeat rate: buyers with 2 or more purchases / buyers. Frequency: buyers per purchase-count bucket.
- Cohort retention: buyers grouped by the local month of their first purchase (and its channel); the share
  of the cohort with a purchase in each of the 12 months that follow.
- RFM grid: days since the last purchase x purchase count (app/analytics/rfm.py), buyers and average
  lifetime net spend per cell.
- LTV by channel mix: average and median lifetime net spend of omni, store-only and online-only buyers
  (the channel mix of app/domain/history.py; buyers only in other channels are left out).
- Campaigns against their holdout: each started campaign's effect on sales over its members' 60-day windows,
  treated against holdout members (app/analytics/campaigns.py).

When it is computed: when the shop's data changed (the home summary's watermark), when staff ask for it, and
at least every ANALYTICS_MAX_AGE (recency and complete F2 windows move with the calendar); a large shop at
most once per DIRTY_GAP_FACTOR of its last duration.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analytics.campaigns import campaign_effects, to_json
from app.analytics.queries import (
    F2_WINDOWS,
    RETENTION_MONTHS,
    Sql,
    cohort_rows,
    f2_rows,
    ltv_rows,
    rfm_rows,
)
from app.analytics.rfm import FREQUENCY, RECENCY
from app.dashboard.summary import watermark
from app.extensions import db
from app.models.dashboard import AnalyticsSnapshot
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)

ANALYTICS_MAX_AGE = timedelta(hours=6)
DIRTY_GAP_FACTOR = 5
COHORT_MONTHS = 12
MIXES = ("omni", "store_only", "online_only")


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def month_key(index: int) -> str:
    """ "YYYY-MM" of a month index (year * 12 + month - 1)."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def compute(session: Session, shop: Shop, now: datetime) -> dict[str, Any]:
    """Every figure of the page, as JSON-ready data (four grouped queries, and a few per started campaign)."""
    sql = Sql(session, shop.timezone, now)
    f2 = {}
    for channel, buyers, *pairs in f2_rows(session, shop, now, sql):
        f2[channel] = {
            "buyers": int(buyers),
            "eligible": [int(pairs[2 * i] or 0) for i in range(len(F2_WINDOWS))],
            "converted": [int(pairs[2 * i + 1] or 0) for i in range(len(F2_WINDOWS))],
        }
    members = [[0] * len(FREQUENCY) for _ in RECENCY]
    spend = [["0.00"] * len(FREQUENCY) for _ in RECENCY]
    for r, f, n, total in rfm_rows(session, shop, now, sql):
        members[int(r)][int(f)] = int(n)
        spend[int(r)][int(f)] = _money(total)
    ltv = {m: {"members": 0, "total": "0.00", "median": "0.00"} for m in MIXES}
    for mix, n, total, median in ltv_rows(session, shop, now):
        if mix in ltv:
            ltv[mix] = {"members": int(n), "total": _money(total), "median": _money(median)}
    today = sql.today_month_index()
    cohorts: dict[str, dict[str, list[int]]] = {}
    for channel, cohort, since, n in cohort_rows(session, shop, now, sql, COHORT_MONTHS):
        row = cohorts.setdefault(channel, {}).setdefault(month_key(int(cohort)), [0] * (RETENTION_MONTHS + 1))
        row[int(since)] = int(n)
    return {
        "v": 1,
        "watermark": watermark(session, shop),
        "today_month": month_key(today),
        "windows": list(F2_WINDOWS),
        "f2": f2,
        "rfm": {"members": members, "spend": spend},
        "ltv": ltv,
        "cohort_months": [month_key(i) for i in range(today - COHORT_MONTHS + 1, today + 1)],
        "cohorts": cohorts,
        "campaigns": [to_json(effect) for effect in campaign_effects(session, shop, now)],
    }


def refresh(session: Session, shop: Shop, now: datetime | None = None) -> AnalyticsSnapshot:
    """Recompute the shop's figures and store them (the caller commits)."""
    now = now or utcnow()
    started = time.perf_counter()
    data = compute(session, shop, now)
    snapshot = session.get(AnalyticsSnapshot, shop.id)
    if snapshot is None:
        snapshot = AnalyticsSnapshot(shop_id=shop.id)
        session.add(snapshot)
    snapshot.data = data
    snapshot.computed_at = now
    snapshot.requested_at = None
    snapshot.duration_ms = int((time.perf_counter() - started) * 1000)
    session.flush()
    return snapshot


def request_refresh(session: Session, shop: Shop, now: datetime | None = None) -> AnalyticsSnapshot:
    """Staff asked for new figures: the worker's next round computes them (the caller commits)."""
    snapshot = session.get(AnalyticsSnapshot, shop.id)
    if snapshot is None:
        snapshot = AnalyticsSnapshot(shop_id=shop.id, data={})  # no figures yet: due at once
        session.add(snapshot)
    snapshot.requested_at = now or utcnow()
    session.flush()
    return snapshot


def is_due(session: Session, shop: Shop, snapshot: AnalyticsSnapshot | None, now: datetime) -> bool:
    """Whether the shop's figures should be computed in this worker round."""
    if snapshot is None or not snapshot.data:
        return True
    if snapshot.requested_at is not None:
        return True
    if snapshot.computed_at > now - timedelta(milliseconds=snapshot.duration_ms * DIRTY_GAP_FACTOR):
        return False
    if snapshot.computed_at < now - ANALYTICS_MAX_AGE:
        return True
    return snapshot.data.get("watermark") != watermark(session, shop)


def refresh_due(session: Session, now: datetime | None = None) -> int:
    """Compute the figures of every installed shop that is due (commits per shop)."""
    now = now or utcnow()
    rows = session.execute(
        select(Shop, AnalyticsSnapshot)
        .outerjoin(AnalyticsSnapshot, AnalyticsSnapshot.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.INSTALLED)
        .order_by(Shop.id)
    ).all()
    done = 0
    for shop, snapshot in rows:
        if not is_due(session, shop, snapshot, now):
            continue
        result = refresh(session, shop, now)
        session.commit()
        done += 1
        log.info("analytics shop=%d computed in %d ms", shop.id, result.duration_ms)
    return done


def run_scheduled_analytics() -> int:
    """The worker's scheduled hook (app/dispatch.py SCHEDULED_JOBS)."""
    return refresh_due(db.session)
