"""Worker handlers for inbox rows with source "smaregi" (topic = the Smaregi-Event header).

Same contract as app/dispatch.py: (session, shop, row, body) -> DONE | IGNORED (InboxStatus), in the worker's
transaction; a malformed record raises NormaliseError (dead-lettered at once), anything else is retried.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from app.integrations.smaregi.client import SmaregiClient, SmaregiError
from app.integrations.smaregi.ingest import ingest_customer, ingest_transaction
from app.integrations.smaregi.mapping import MappingError
from app.integrations.smaregi.push import push_due
from app.models.inbox import InboxEvent, InboxStatus
from app.models.integrations import SmaregiConnection
from app.models.shop import Shop
from app.shopify.payloads.rest import NormaliseError

log = logging.getLogger(__name__)
DELETE_ACTIONS = frozenset({"deleted", "bulk-deleted"})


def _ids(body: dict[str, Any], key: str) -> list[str]:
    ids = body.get(key)
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise NormaliseError(f"smaregi body: {key} is not a list of ids")
    return [str(i) for i in ids]


def transactions(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """pos:transactions (created, edited, ...): fetch each receipt and apply its newest state."""
    connection = session.get(SmaregiConnection, shop.id)
    if connection is None:
        return InboxStatus.IGNORED
    with SmaregiClient(connection) as client:
        try:
            for head_id in _ids(body, "transactionHeadIds"):
                ingest_transaction(session, shop, client, head_id)
        except MappingError as exc:
            raise NormaliseError(f"smaregi transaction: {exc}") from exc
        _push(session, shop, client)
    return InboxStatus.DONE


def customers(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """pos:customers: fetch each member and link it (member number/code, then phone, then email)."""
    connection = session.get(SmaregiConnection, shop.id)
    if connection is None:
        return InboxStatus.IGNORED
    deleted = body.get("action") in DELETE_ACTIONS
    with SmaregiClient(connection) as client:
        try:
            for customer_id in _ids(body, "customerIds"):
                ingest_customer(session, shop, client, customer_id, deleted=deleted)
        except MappingError as exc:
            raise NormaliseError(f"smaregi member: {exc}") from exc
        _push(session, shop, client)
    return InboxStatus.DONE


def _push(session: Session, shop: Shop, client: SmaregiClient) -> None:
    """Push rank/points after the credit; a push failure never undoes the credit (it stays due)."""
    try:
        push_due(session, shop, client)
    except SmaregiError as exc:
        log.warning("smaregi push deferred for shop=%s: %s", shop.domain, exc)


SMAREGI_HANDLERS = {"pos:transactions": transactions, "pos:customers": customers}
