"""Customer data exports (built for `customers/data_request`) as the merchant downloads them.

Shopify asks the app to provide the customer's data to the merchant
(https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance#customers-data_request); the merchant
downloads it from the dashboard or an operator with `flask data-exports download`. Every read is scoped to
one shop, an expired export is gone (app/customers/retention.py), and each download is logged by ids only.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.customers.retention import export_expires_at
from app.models.compliance import DataExport, ExportStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportListing:
    """One export as the dashboard and the CLI list it: no personal data beyond the customer's id."""

    id: int
    shop_domain: str
    shopify_customer_id: str
    data_request_id: str
    status: str
    built_at: datetime
    expires_at: datetime
    downloaded_at: datetime | None


def _live(settings: Settings, now: datetime):
    """Exports not yet past their retention (the purge may not have run yet)."""
    return DataExport.built_at >= now - timedelta(days=settings.data_export_retention_days)


def list_exports(
    session: Session, settings: Settings, *, shop_id: int | None = None, now: datetime | None = None
) -> list[ExportListing]:
    """Exports still downloadable, newest first; of one shop when `shop_id` is given."""
    query = select(DataExport).where(_live(settings, now or utcnow())).order_by(DataExport.built_at.desc())
    if shop_id is not None:
        query = query.where(DataExport.shop_id == shop_id)
    return [
        ExportListing(
            id=e.id,
            shop_domain=e.shop_domain,
            shopify_customer_id=e.shopify_customer_id,
            data_request_id=e.data_request_id,
            status=e.status,
            built_at=e.built_at,
            expires_at=export_expires_at(e, settings),
            downloaded_at=e.downloaded_at,
        )
        for e in session.scalars(query)
    ]


def download(
    session: Session,
    settings: Settings,
    export_id: int,
    *,
    shop_id: int | None,
    by: str,
    now: datetime | None = None,
) -> tuple[str, bytes] | None:
    """(file name, JSON bytes) of a live export, marked downloaded and logged; None if it is not there.

    `shop_id` scopes the dashboard to its own shop (None only for the operator's CLI); `by` says through
    what ("dashboard" or "cli") for the log line. The caller commits.
    """
    now = now or utcnow()
    query = select(DataExport).where(DataExport.id == export_id, _live(settings, now))
    if shop_id is not None:
        query = query.where(DataExport.shop_id == shop_id)
    export = session.scalar(query)
    if export is None:
        return None
    document = {
        "data_request_id": export.data_request_id,
        "shop_domain": export.shop_domain,
        "shopify_customer_id": export.shopify_customer_id,
        "built_at": export.built_at.isoformat(),
        "data": export.data,
    }
    export.status, export.downloaded_at = ExportStatus.DOWNLOADED, now
    session.flush()
    log.info("data export %d of shop %s downloaded by %s", export.id, export.shop_domain, by)
    name = f"tsunagu-data-request-{re.sub(r'[^A-Za-z0-9_-]', '-', export.data_request_id)}.json"
    return name, json.dumps(document, ensure_ascii=False, indent=2).encode()
