"""bulk_operations/finish: note the finished operation on its backfill job, for the backfill to go on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.inbox import DONE, IGNORED, InboxEvent
from app.models.shop import Shop
from app.models.sync import BackfillJob
from app.webhooks.normalise import NormaliseError


def bulk_operation_finished(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """Record Shopify's notice on the BackfillJob that started the operation (`detail["finished"]`).

    The sync engineer's backfill continues from here (download the JSONL, feed the normaliser); this is the
    single place to call it from. A notice for an operation we did not start is kept as ignored.
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
        return IGNORED
    finished = {key: body.get(key) for key in ("status", "error_code", "completed_at", "type") if key in body}
    # A new dict, so SQLAlchemy sees the JSON column change.
    job.detail = {**(job.detail or {}), "finished": finished}
    return DONE
