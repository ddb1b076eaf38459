"""How long personal data stays: processed webhook rows and customer data exports are deleted when due.

Bodies are already reduced once processed (app/shopify/payloads/retention.py); the rows themselves go after
`inbox_retention_days`, far beyond Shopify's retry window of 4 hours
(https://shopify.dev/docs/apps/build/webhooks/troubleshooting-webhooks), so the delivery-id dedupe never
needs them. Rows closed with a reason (refused, redacted) and dead rows stay for the operator: their bodies
hold ids only, or are needed to replay after a fix. Exports built for `customers/data_request` go after
`data_export_retention_days` (the merchant downloads them in the meantime: app/customers/exports.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models.compliance import DataExport
from app.models.inbox import InboxEvent, InboxStatus
from app.models.types import rows_affected, utcnow

log = logging.getLogger(__name__)
BATCH = 1000  # rows deleted per transaction: short locks, and a crash loses at most one batch's work


def purge_inbox(session: Session, older_than: datetime) -> int:
    """Delete processed rows (done, or ignored without a reason) processed before `older_than`; commits."""
    purgeable = (
        InboxEvent.processed_at < older_than,
        or_(
            InboxEvent.status == InboxStatus.DONE,
            (InboxEvent.status == InboxStatus.IGNORED) & InboxEvent.last_error.is_(None),
        ),
    )
    total = 0
    while True:
        ids = select(InboxEvent.id).where(*purgeable).order_by(InboxEvent.id).limit(BATCH)
        deleted = rows_affected(
            session.execute(
                delete(InboxEvent)
                .where(InboxEvent.id.in_(ids.scalar_subquery()))
                .execution_options(synchronize_session=False)
            )
        )
        session.commit()
        total += deleted or 0
        if not deleted or deleted < BATCH:
            return total


def purge_exports(session: Session, older_than: datetime) -> int:
    """Delete customer data exports built before `older_than`; commits."""
    deleted = rows_affected(
        session.execute(
            delete(DataExport)
            .where(DataExport.built_at < older_than)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return deleted or 0


def export_expires_at(export: DataExport, settings: Settings) -> datetime:
    """When the export is deleted (and can no longer be downloaded)."""
    return export.built_at + timedelta(days=settings.data_export_retention_days)


def purge_expired(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """The retention job (run by the worker between batches): both purges, counts logged."""
    now = now or utcnow()
    result = {
        "inbox": purge_inbox(session, now - timedelta(days=settings.inbox_retention_days)),
        "exports": purge_exports(session, now - timedelta(days=settings.data_export_retention_days)),
    }
    if any(result.values()):
        log.info("retention purged inbox_rows=%d data_exports=%d", result["inbox"], result["exports"])
    return result
