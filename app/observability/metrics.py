"""GET /metrics: the pipeline's numbers in the Prometheus text format, read from the database at scrape time.

The numbers live in the database, not in process memory, so every web process answers the same for all
workers and syncers, without prometheus_client's multiprocess mode (https://prometheus.github.io/
client_python/multiprocess/). Each query is indexed or runs over a small table; the one that grows with the
members (the sync queue) is said so below.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import BackfillJob, FreshnessSample, InboxEvent, Member, MemberSyncState, Shop, ShopSyncStatus
from app.models.inbox import InboxStatus
from app.models.member import MemberStatus
from app.models.shop_jobs import BACKFILL_OPEN
from app.models.types import utcnow
from app.observability import heartbeats
from app.sync.freshness import percentile

bp = Blueprint("metrics", __name__)

FRESHNESS_WINDOW = timedelta(minutes=15)
FRESHNESS_SAMPLES = 10_000  # the newest samples in the window, at most (bounded work per scrape)
# done/ignored are left out: they are every delivery ever received, and counting them reads the whole
# index; what operators alert on is what waits (pending), what is in hand (processing) and dead letters.
INBOX_STATES = (InboxStatus.PENDING, InboxStatus.PROCESSING, InboxStatus.DEAD)


class PipelineCollector:
    """A prometheus_client custom collector (https://prometheus.github.io/client_python/collector/custom/)."""

    def __init__(self, session_factory=lambda: db.session) -> None:
        self.session_factory = session_factory

    def describe(self) -> list[Metric]:
        return []  # no query at registration time

    def collect(self) -> Iterator[Metric]:
        session: Session = self.session_factory()
        up = GaugeMetricFamily("tsunagu_database_up", "1 when the metrics queries succeeded")
        try:
            families = list(self._families(session))
        except SQLAlchemyError:
            session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, session: Session) -> Iterator[Metric]:
        now = utcnow()
        yield from _inbox(session, now)
        yield from _sync_queue(session)
        yield from _freshness(session, now)
        yield from _api_bucket(session)
        yield from _backfill(session)
        yield from _processes(session, now)


def _inbox(session: Session, now) -> Iterator[Metric]:
    found = dict(
        session.execute(
            select(InboxEvent.status, func.count())
            .where(InboxEvent.status.in_(INBOX_STATES))
            .group_by(InboxEvent.status)
        ).all()
    )
    rows = GaugeMetricFamily(
        "tsunagu_inbox_rows", "Webhook inbox rows waiting, in hand or dead-lettered", labels=["state"]
    )
    for state in INBOX_STATES:
        rows.add_metric([state], int(found.get(state, 0)))
    yield rows
    # Both read the (status, next_attempt_at) index.
    oldest_due = session.scalar(
        select(func.min(InboxEvent.next_attempt_at)).where(
            InboxEvent.status == InboxStatus.PENDING, InboxEvent.next_attempt_at <= now
        )
    )
    expired = session.scalar(
        select(func.count()).where(
            InboxEvent.status == InboxStatus.PROCESSING, InboxEvent.lease_expires_at < now
        )
    )
    yield GaugeMetricFamily(
        "tsunagu_inbox_oldest_due_age_seconds",
        "How long the oldest row due for processing has waited for a worker (0: none waits)",
        value=max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0,
    )
    yield GaugeMetricFamily(
        "tsunagu_inbox_expired_leases",
        "Rows still marked processing whose lease ran out (their worker died; another takes them)",
        value=int(expired or 0),
    )


def _sync_queue(session: Session) -> Iterator[Metric]:
    """Members whose change Shopify does not hold yet. Reads every active linked member (with its sync state):
    the one query here whose cost grows with the members, as the dashboard's per-shop count does."""
    state = MemberSyncState
    confirmed = func.coalesce(state.confirmed_version, 0)
    written = case(
        (state.written_version > confirmed, state.written_version), else_=confirmed
    )  # written_version is NULL on rows from before it existed
    counts: Any = session.execute(
        select(
            func.coalesce(func.sum(case((Member.sync_version > written, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Member.sync_version > confirmed, 1), else_=0)), 0),
        )
        .select_from(Member)
        .outerjoin(state, state.member_id == Member.id)
        .where(Member.status == MemberStatus.ACTIVE, Member.shopify_customer_id.is_not(None))
    ).one()
    unwritten, unconfirmed = counts
    family = GaugeMetricFamily(
        "tsunagu_sync_queue_members",
        "Members whose newest change is not in Shopify yet: metafields not written (unwritten), "
        "or metafields and tags not both confirmed (unconfirmed)",
        labels=["stage"],
    )
    family.add_metric(["unwritten"], int(unwritten))
    family.add_metric(["unconfirmed"], int(unconfirmed))
    yield family


def _freshness(session: Session, now) -> Iterator[Metric]:
    values = sorted(
        session.scalars(
            select(FreshnessSample.latency_ms)
            .where(FreshnessSample.confirmed_at >= now - FRESHNESS_WINDOW)
            .order_by(FreshnessSample.confirmed_at.desc())
            .limit(FRESHNESS_SAMPLES)
        )
    )
    window = int(FRESHNESS_WINDOW.total_seconds())
    yield GaugeMetricFamily(
        "tsunagu_freshness_samples",
        f"Webhook-to-metafield samples confirmed in the last {window} s, all shops (the newest "
        f"{FRESHNESS_SAMPLES} at most: the quantiles are over these)",
        value=len(values),
    )
    quantiles = GaugeMetricFamily(
        "tsunagu_freshness_seconds",
        f"Webhook received -> metafield confirmed by Shopify, over the samples of the last {window} s "
        "(no series when there were none)",
        labels=["quantile"],
    )
    for fraction in (0.5, 0.95):
        value = percentile(values, fraction)
        if value is not None:
            quantiles.add_metric([str(fraction)], value / 1000)
    yield quantiles


def _api_bucket(session: Session) -> Iterator[Metric]:
    rows = session.execute(
        select(
            Shop.domain,
            ShopSyncStatus.api_available,
            ShopSyncStatus.api_maximum,
            ShopSyncStatus.api_restore_rate,
            ShopSyncStatus.throttled_count,
        ).join(Shop, Shop.id == ShopSyncStatus.shop_id)
    ).all()
    available = GaugeMetricFamily(
        "tsunagu_api_bucket_available_points",
        "Admin API cost bucket: points available at the last reading (extensions.cost.throttleStatus)",
        labels=["shop"],
    )
    maximum = GaugeMetricFamily(
        "tsunagu_api_bucket_maximum_points", "Admin API cost bucket: its size", labels=["shop"]
    )
    restore = GaugeMetricFamily(
        "tsunagu_api_bucket_restore_rate_points", "Admin API cost bucket: points restored per second",
        labels=["shop"],
    )  # fmt: skip
    throttled = CounterMetricFamily(
        "tsunagu_api_throttled", "Admin API calls answered THROTTLED", labels=["shop"]
    )
    for domain, free, size, rate, count in rows:
        if free is not None:
            available.add_metric([domain], free)
        if size is not None:
            maximum.add_metric([domain], size)
        if rate is not None:
            restore.add_metric([domain], rate)
        throttled.add_metric([domain], int(count or 0))
    yield from (available, maximum, restore, throttled)


def _backfill(session: Session) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("tsunagu_backfill_jobs", "Install backfill jobs by status", labels=["status"])
    for status, count in session.execute(
        select(BackfillJob.status, func.count()).group_by(BackfillJob.status)
    ).all():
        jobs.add_metric([status], int(count))
    yield jobs
    done = GaugeMetricFamily(
        "tsunagu_backfill_done", "Rows applied by each unfinished backfill job", labels=["shop", "kind"]
    )
    total = GaugeMetricFamily(
        "tsunagu_backfill_total",
        "Rows Shopify exported for each unfinished backfill job (once known)",
        labels=["shop", "kind"],
    )
    for domain, kind, applied, exported in session.execute(
        select(Shop.domain, BackfillJob.kind, BackfillJob.done, BackfillJob.total)
        .join(Shop, Shop.id == BackfillJob.shop_id)
        .where(BackfillJob.status.in_(BACKFILL_OPEN))
    ).all():
        done.add_metric([domain, kind], int(applied or 0))
        if exported is not None:
            total.add_metric([domain, kind], int(exported))
    yield from (done, total)


def _processes(session: Session, now) -> Iterator[Metric]:
    age = GaugeMetricFamily(
        "tsunagu_process_heartbeat_age_seconds",
        "Seconds since each worker and syncer process last said it was alive",
        labels=["kind", "holder"],
    )
    processed = CounterMetricFamily(
        "tsunagu_worker_rows_processed",
        "Inbox rows each worker process has processed since it started (from its heartbeat)",
        labels=["holder"],
    )
    shed = CounterMetricFamily(
        "tsunagu_webhooks_shed",
        "Webhook deliveries each web process answered 503 under overload since it started (Shopify retries)",
        labels=["holder"],
    )
    for beat in heartbeats.recent(session):
        age.add_metric([beat.kind, beat.holder], beat.age(now))
        if beat.kind == "worker":
            processed.add_metric([beat.holder], beat.processed)
        elif beat.kind == "web":  # app/webhooks/edge.py: the web process's row counts its shed deliveries
            shed.add_metric([beat.holder], beat.processed)
    yield from (age, processed, shed)


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus exposition. With METRICS_TOKEN set it wants `Authorization: Bearer <token>` (else 401);
    production without a token does not serve it at all (404): shop domains and volumes are not public."""
    token = current_app.config["SETTINGS"].metrics_token
    if token is None and current_app.config["SETTINGS"].is_production:
        abort(404)
    if token is not None:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return Response("metrics need a bearer token\n", 401, {"WWW-Authenticate": "Bearer"})
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(current_app.extensions["tsunagu_metrics"])
    return Response(body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"})


def init_metrics(app: Flask) -> None:
    """A registry of the app's own (not prometheus_client's global one: create_app may run many times)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector())
    app.extensions["tsunagu_metrics"] = registry
    app.register_blueprint(bp)
