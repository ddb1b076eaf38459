"""Per-shop Smaregi connection settings: credentials sealed at rest, looked up by contract id."""

from __future__ import annotations

import hmac
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.secrets import seal, unseal
from app.models.integrations import SmaregiConnection
from app.models.shop import Shop

CONTRACT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ENVIRONMENTS = ("jp", "dev")


class ConnectionError_(ValueError):
    """Connection settings that cannot work; the message names the field."""


def connect(
    session: Session,
    shop: Shop,
    *,
    contract_id: str,
    client_id: str,
    client_secret: str,
    webhook_secret: str,
    environment: str = "jp",
    rank_codes: dict[str, str] | None = None,
) -> SmaregiConnection:
    """Create or replace the shop's Smaregi connection (a new secret drops the cached token)."""
    if not CONTRACT_ID.match(contract_id):
        raise ConnectionError_("contract_id: letters, digits, _ and - only")
    if environment not in ENVIRONMENTS:
        raise ConnectionError_(f"environment must be one of {ENVIRONMENTS}")
    if len(webhook_secret) < 16:
        raise ConnectionError_("webhook_secret: at least 16 characters")
    if not client_id or not client_secret:
        raise ConnectionError_("client_id and client_secret are required")
    row = session.get(SmaregiConnection, shop.id) or SmaregiConnection(shop_id=shop.id)
    row.contract_id, row.client_id, row.environment = contract_id, client_id, environment
    if rank_codes is not None:
        row.rank_codes = {str(k): str(v) for k, v in rank_codes.items()}
    row.client_secret_enc = seal(shop.id, "smaregi_client_secret", client_secret)
    row.webhook_secret_enc = seal(shop.id, "smaregi_webhook_secret", webhook_secret)
    row.access_token_enc, row.access_expires_at = None, None
    session.add(row)
    session.flush()
    return row


def by_contract(session: Session, contract_id: str) -> SmaregiConnection | None:
    """The connection of a Smaregi contract (the Smaregi-Contract-Id header names it)."""
    if not contract_id or not CONTRACT_ID.match(contract_id):
        return None
    return session.scalar(select(SmaregiConnection).where(SmaregiConnection.contract_id == contract_id))


def webhook_secret_ok(connection: SmaregiConnection, presented: str) -> bool:
    """Constant-time comparison of the shared-secret header with the stored one."""
    expected = unseal(connection.shop_id, "smaregi_webhook_secret", connection.webhook_secret_enc)
    return hmac.compare_digest(expected.encode(), presented.encode())
