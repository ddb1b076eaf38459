"""Per-shop Smaregi connection settings: credentials sealed at rest, looked up by contract id; what syncs;
the store map (Smaregi store id -> the name purchase history shows)."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.integrations.secrets import seal, unseal
from app.integrations.smaregi.client import SmaregiClient
from app.models.integrations import SmaregiAuthState, SmaregiConnection, SmaregiStore, StoreStatus
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
    if row.contract_id and row.contract_id != contract_id:
        # Another merchant account: its sales start from a fresh watermark, old errors no longer apply.
        row.reconciled_until, row.last_error = None, None
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


# Every toggle on the settings page and the column it sets.
TOGGLES = ("import_sales", "push_enabled", "export_members", "register_points")
STORE_NAME_MAX = 255


@dataclass(frozen=True)
class SyncChoices:
    """What the merchant chose to sync."""

    import_sales: bool
    push_enabled: bool
    export_members: bool
    register_points: bool


def save_choices(connection: SmaregiConnection, choices: SyncChoices) -> None:
    """Store the toggles (the push, export and ingest code read them on their next pass)."""
    for name in TOGGLES:
        setattr(connection, name, getattr(choices, name))


def disconnect(session: Session, shop: Shop) -> bool:
    """Forget the shop's contract and its sealed credentials; store names stay (purchase history shows them).

    Cancelling the app itself happens in Smaregi's app market; this only stops Tsunagu using the contract.
    """
    row = session.get(SmaregiConnection, shop.id)
    session.execute(delete(SmaregiAuthState).where(SmaregiAuthState.shop_id == shop.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def stores(session: Session, shop: Shop) -> list[SmaregiStore]:
    """The shop's store map, by Smaregi store id."""
    rows = session.scalars(select(SmaregiStore).where(SmaregiStore.shop_id == shop.id)).all()
    return sorted(rows, key=lambda r: (len(r.store_id), r.store_id))


def rename_stores(session: Session, shop: Shop, names: dict[str, str]) -> None:
    """Set the names purchase history shows (validated by the caller: known ids, 1-255 characters)."""
    for row in stores(session, shop):
        if row.store_id in names:
            row.name, row.status = names[row.store_id], StoreStatus.MAPPED
    session.flush()


class StoresClient(SmaregiClient):
    """The store list (GET /pos/stores), read when the settings page refreshes the store map."""

    def list_stores(self) -> list[dict[str, Any]]:
        """Every store of the contract (storeId, storeName), all pages."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._json("GET", "/stores", params={"limit": 1000, "page": page}) or []
            rows.extend(b for b in batch if isinstance(b, dict))
            if len(batch) < 1000:
                return rows
            page += 1


def refresh_stores(session: Session, shop: Shop, connection: SmaregiConnection) -> int:
    """Add the contract's stores to the map with Smaregi's names; names the merchant edited are kept."""
    known = {row.store_id: row for row in stores(session, shop)}
    client = StoresClient(connection)
    try:
        listed = client.list_stores()
    finally:
        client.close()
    added = 0
    for store in listed:
        store_id, name = str(store.get("storeId") or ""), str(store.get("storeName") or "")[:STORE_NAME_MAX]
        if not store_id or len(store_id) > 32:
            continue
        row = known.get(store_id)
        if row is None:
            session.add(
                SmaregiStore(
                    shop_id=shop.id,
                    store_id=store_id,
                    name=name or None,
                    status=StoreStatus.MAPPED if name else StoreStatus.UNMAPPED,
                )
            )
            added += 1
        elif row.status == StoreStatus.UNMAPPED and name:
            row.name, row.status = name, StoreStatus.MAPPED
    session.flush()
    return added
