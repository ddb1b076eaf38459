"""bulk_operations/finish: note the finished operation on its backfill job, for the backfill to go on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.inbox import InboxEvent, InboxStatus
from app.models.shop import Shop
from app.models.shop_jobs import BackfillJob
from app.shopify.payloads.rest import NormaliseError


def bulk_operation_finished(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """Acknowledge Shopify's notice for an operation the backfill started; any other is kept as ignored.

    The backfill polls its operation on every syncer pass (app/sync/backfill.py `poll`), which also yields the
    result URL the notice lacks, so the notice only needs to be matched to its job and kept in the inbox for
    the audit trail (https://shopify.dev/docs/api/usage/bulk-operations/queries#option-b-subscribe-to-the-bulk_operations-finish-webhook-topic).
    """
    operation_id = body.get("admin_graphql_api_id")
    if not isinstance(operation_id, str) or not operation_id:
        raise NormaliseError("bulk_operations/finish without admin_graphql_api_id")
    job = session.scalar(
        select(BackfillJob).where(
            BackfillJob.shop_id == shop.id, BackfillJob.bulk_operation_id == operation_id
        )
    )
    if job is None:
        return InboxStatus.IGNORED
    return InboxStatus.DONE
