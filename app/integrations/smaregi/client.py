"""Smaregi Platform API client: client-credentials token (cached in the connection row), POS reads and writes.

Endpoints (developers.smaregi.dev/platform-api-reference): token `POST https://id.smaregi.{env}/app/{contract}/token`
with HTTP Basic (client id/secret) and `grant_type=client_credentials`; API base
`https://api.smaregi.{env}/{contract}/pos`. Every id and amount in the JSON is a string.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from app.http_client import http_client
from app.integrations.secrets import seal, unseal
from app.models.integrations import SmaregiConnection
from app.models.types import utcnow

log = logging.getLogger(__name__)

SCOPES = "pos.transactions:read pos.customers:read pos.customers:write pos.stores:read"
REFRESH_MARGIN = timedelta(seconds=60)  # renew a minute early: a token must not expire mid-request
PAGE_LIMIT = 1000  # the API's maximum `limit`


class SmaregiError(Exception):
    """A Smaregi call failed; `transient` says whether retrying later can help."""

    def __init__(self, message: str, status: int | None = None, transient: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class SmaregiClient:
    """Calls for one shop's contract; the access token is cached in (and refreshed through) the connection."""

    def __init__(self, connection: SmaregiConnection, http: httpx.Client | None = None) -> None:
        self.connection = connection
        self._owns_http = http is None
        self.http = http or http_client("smaregi", retries=1)
        env = connection.environment if connection.environment in ("jp", "dev") else "jp"
        self.token_url = f"https://id.smaregi.{env}/app/{connection.contract_id}/token"
        self.api_base = f"https://api.smaregi.{env}/{connection.contract_id}/pos"

    def close(self) -> None:
        """Release the connection pool (when the client made its own)."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> SmaregiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- token -------------------------------------------------------------------------------------------
    def access_token(self, now: datetime | None = None) -> str:
        """The cached token while it has a minute left, else a fresh one (stored encrypted on the row)."""
        now = now or utcnow()
        conn = self.connection
        if conn.access_token_enc and conn.access_expires_at and conn.access_expires_at - REFRESH_MARGIN > now:
            return unseal(conn.shop_id, "smaregi_access_token", conn.access_token_enc)
        return self._fetch_token(now)

    def _fetch_token(self, now: datetime) -> str:
        conn = self.connection
        secret = unseal(conn.shop_id, "smaregi_client_secret", conn.client_secret_enc)
        try:
            response = self.http.post(
                self.token_url,
                auth=(conn.client_id, secret),
                data={"grant_type": "client_credentials", "scope": SCOPES},
            )
        except httpx.HTTPError as exc:
            raise SmaregiError(f"token request failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            # 400/401: wrong credentials or scopes; the merchant must fix the connection, retrying won't.
            transient = response.status_code >= 500 or response.status_code == 429
            raise SmaregiError(
                f"token endpoint answered {response.status_code}", response.status_code, transient
            )
        body = response.json()
        token = str(body["access_token"])
        conn.access_token_enc = seal(conn.shop_id, "smaregi_access_token", token)
        conn.access_expires_at = now + timedelta(seconds=int(body.get("expires_in", 3600)))
        return token

    # --- requests ----------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call; a 401 (token revoked or expired early) refreshes the token once and retries."""
        for attempt in (1, 2):
            token = self.access_token() if attempt == 1 else self._fetch_token(utcnow())
            try:
                response = self.http.request(
                    method, self.api_base + path, headers={"Authorization": f"Bearer {token}"}, **kwargs
                )
            except httpx.HTTPError as exc:
                raise SmaregiError(f"{method} {path.split('/')[1]} failed: {type(exc).__name__}") from exc
            if response.status_code != 401:
                return response
        return response

    def _json(self, method: str, path: str, *, allow_404: bool = False, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if allow_404 and response.status_code == 404:
            return None
        if response.status_code >= 400:
            transient = response.status_code >= 500 or response.status_code in (401, 429)
            # The resource name only: Smaregi error bodies can echo personal data.
            raise SmaregiError(
                f"{method} /{path.split('/')[1]} answered {response.status_code}",
                response.status_code,
                transient,
            )
        return response.json() if response.content else None

    def get_transaction(self, transaction_head_id: str) -> dict[str, Any] | None:
        """One transaction with its details, or None if Smaregi has no such id."""
        return self._json(
            "GET", f"/transactions/{transaction_head_id}", params={"with_details": "all"}, allow_404=True
        )

    def list_transactions(self, updated_from: datetime, updated_to: datetime) -> list[dict[str, Any]]:
        """Every transaction updated in [from, to] (at most 31 days apart), oldest update first, all pages."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._json(
                "GET",
                "/transactions",
                params={
                    "upd_date_time-from": _smaregi_time(updated_from),
                    "upd_date_time-to": _smaregi_time(updated_to),
                    "sort": "updDateTime",
                    "limit": PAGE_LIMIT,
                    "page": page,
                },
            )
            rows.extend(batch or [])
            if not batch or len(batch) < PAGE_LIMIT:
                return rows
            page += 1

    def get_customer(self, customer_id: str) -> dict[str, Any] | None:
        """One member, or None if deleted or unknown."""
        return self._json("GET", f"/customers/{customer_id}", allow_404=True)

    def find_customer_by_code(self, customer_code: str) -> dict[str, Any] | None:
        """The member with this customerCode (the number printed on the paper card), or None."""
        rows = self._json("GET", "/customers", params={"customer_code": customer_code, "limit": 2})
        return rows[0] if rows else None

    def get_store(self, store_id: str) -> dict[str, Any] | None:
        """One store (storeId, storeName), or None."""
        return self._json("GET", f"/stores/{store_id}", allow_404=True)

    def update_customer_rank(self, customer_id: str, rank: str) -> None:
        """Set the member's rank (one of the merchant's Smaregi rank codes) shown at the register."""
        self._json("PATCH", f"/customers/{customer_id}", json={"rank": rank})

    def set_customer_points(self, customer_id: str, points: int, expires_on: date | None = None) -> None:
        """Set the member's balance to an absolute value (PATCH /customers/{id}/point), with the date the next
        points expire (`pointExpireDate`, YYYY-MM-DD; left as it is when not given)."""
        body = {"point": str(points)}
        if expires_on is not None:
            body["pointExpireDate"] = expires_on.isoformat()
        self._json("PATCH", f"/customers/{customer_id}/point", json=body)

    def create_customer(self, record: dict[str, str]) -> dict[str, Any]:
        """Register a member (POST /customers); `customerCode` must be unique in the contract."""
        created = self._json("POST", "/customers", json=record)
        if not isinstance(created, dict) or not created.get("customerId"):
            raise SmaregiError("POST /customers answered without a customerId", transient=False)
        return created


def _smaregi_time(at: datetime) -> str:
    """Smaregi's [YYYY-MM-DDThh:mm:ssTZD] format."""
    return at.isoformat(timespec="seconds")
