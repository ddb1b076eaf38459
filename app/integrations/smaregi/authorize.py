"""Connecting a shop to a Smaregi contract with the app's own credentials (the merchant authorises the app).

Smaregi tells an app about a contract in two documented ways (https://developers.smaregi.dev/apidoc/common/):
the user notification (利用者通知) webhook when a merchant subscribes or cancels, which names the contract
but nothing of the Shopify shop, and the login flow (ログイン: OAuth 2.0 authorisation code with OpenID
Connect): the merchant signs in at `id.smaregi.{env}/authorize`, the app exchanges the code at
`/authorize/token` with HTTP Basic (client id/secret) and reads the contract id from `/userinfo`. Only the
second ties a contract to the shop that asked, so the settings page uses it, with a signed single-use
`state` naming the shop.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.http_client import http_client
from app.integrations.smaregi.connection import CONTRACT_ID, by_contract, connect
from app.models.integrations import SmaregiAuthState, SmaregiConnection
from app.models.shop import Shop
from app.models.types import utcnow

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)  # long enough to sign in at Smaregi, short enough to be useless later
LOGIN_SCOPE = "openid"  # /userinfo answers the contract for the `openid` scope


class AuthorizeError(ValueError):
    """The callback cannot connect anything; the message is safe to log (no secret, no personal data)."""


@dataclass(frozen=True)
class AppCredentials:
    """The Smaregi app's client id/secret and webhook header value, from the environment."""

    client_id: str
    client_secret: str
    webhook_secret: str
    environment: str

    @property
    def id_host(self) -> str:
        return f"https://id.smaregi.{self.environment}"


def app_credentials(settings: Settings) -> AppCredentials | None:
    """The app-level credentials, or None while any of them is missing (the Connect button stays off)."""
    if not (
        settings.smaregi_client_id and settings.smaregi_client_secret and settings.smaregi_webhook_secret
    ):
        return None
    return AppCredentials(
        settings.smaregi_client_id,
        settings.smaregi_client_secret,
        settings.smaregi_webhook_secret,
        settings.smaregi_environment,
    )


# --- state --------------------------------------------------------------------------------------------------
def _sign(key: str, shop_id: int, nonce: str) -> str:
    return hmac.new(key.encode(), f"smaregi-state:{shop_id}:{nonce}".encode(), hashlib.sha256).hexdigest()


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def issue_state(session: Session, shop: Shop, key: str, now: datetime | None = None) -> str:
    """A fresh `state` for this shop: `<shop id>.<nonce>.<HMAC>`; only the nonce's hash is stored."""
    now = now or utcnow()
    session.execute(delete(SmaregiAuthState).where(SmaregiAuthState.expires_at < now))
    nonce = secrets.token_urlsafe(24)
    session.add(SmaregiAuthState(shop_id=shop.id, state_hash=_hash(nonce), expires_at=now + STATE_LIFETIME))
    session.flush()
    return f"{shop.id}.{nonce}.{_sign(key, shop.id, nonce)}"


def consume_state(session: Session, state: str, key: str, now: datetime | None = None) -> int:
    """The shop id the state was issued to; refuses a missing, forged, expired, reused or re-bound state."""
    now = now or utcnow()
    shop_part, _, rest = (state or "").partition(".")
    nonce, _, signature = rest.partition(".")
    if not shop_part.isdigit() or not nonce or not signature:
        raise AuthorizeError("state missing or malformed")
    shop_id = int(shop_part)
    if not hmac.compare_digest(_sign(key, shop_id, nonce), signature):
        raise AuthorizeError("state signature does not verify")
    row = session.scalar(
        update(SmaregiAuthState)
        .where(
            SmaregiAuthState.state_hash == _hash(nonce),
            SmaregiAuthState.used_at.is_(None),
            SmaregiAuthState.expires_at > now,
        )
        .values(used_at=now)
        .returning(SmaregiAuthState.shop_id)
    )
    if row is None:
        raise AuthorizeError("state unknown, expired or already used")
    if row != shop_id:
        raise AuthorizeError("state was issued to another shop")
    return shop_id


# --- Smaregi's login flow -----------------------------------------------------------------------------------
def authorize_url(creds: AppCredentials, state: str, redirect_uri: str) -> str:
    """Where the merchant authorises the app (opened top-level: Smaregi's sign-in page is not framed)."""
    query = {
        "response_type": "code",
        "client_id": creds.client_id,
        "scope": LOGIN_SCOPE,
        "state": state,
        "redirect_uri": redirect_uri,
    }
    return f"{creds.id_host}/authorize?{urlencode(query)}"


def contract_from_code(creds: AppCredentials, code: str, redirect_uri: str) -> str:
    """Exchange the code (`/authorize/token`) and read the contract id from `/userinfo`."""
    with http_client("smaregi", retries=1) as http:
        try:
            token = http.post(
                f"{creds.id_host}/authorize/token",
                auth=(creds.client_id, creds.client_secret),
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            )
            if token.status_code != 200:
                raise AuthorizeError(f"code exchange answered {token.status_code}")
            access = str(token.json().get("access_token") or "")
            info = http.post(f"{creds.id_host}/userinfo", headers={"Authorization": f"Bearer {access}"})
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthorizeError(f"Smaregi sign-in failed: {type(exc).__name__}") from exc
    if info.status_code != 200:
        raise AuthorizeError(f"userinfo answered {info.status_code}")
    try:
        contract = info.json().get("contract") or {}
        contract_id = str(contract.get("id") or "")
    except (ValueError, AttributeError) as exc:
        raise AuthorizeError("userinfo answered without a contract") from exc
    if not CONTRACT_ID.match(contract_id):
        raise AuthorizeError("userinfo answered without a usable contract id")
    return contract_id


def connect_contract(
    session: Session, shop: Shop, contract_id: str, creds: AppCredentials
) -> SmaregiConnection:
    """Store the contract for this shop with the app's credentials; a contract bound to another shop stays."""
    existing = by_contract(session, contract_id)
    if existing is not None and existing.shop_id != shop.id:
        raise AuthorizeError("contract is connected to another shop")
    return connect(
        session,
        shop,
        contract_id=contract_id,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        webhook_secret=creds.webhook_secret,
        environment=creds.environment,
    )
