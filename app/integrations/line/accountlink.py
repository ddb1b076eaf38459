"""LINE's account-link flow: link token in the chat, nonce after the storefront login, `accountLink` event.

developers.line.biz/en/docs/messaging-api/linking-accounts/: the bot issues a link token for the LINE user
who asked, sends them to the app's login page with it, the app makes a nonce for the logged-in customer and
redirects to LINE's dialog; LINE confirms the LINE account holder and sends `accountLink` with the nonce.
LINE warns that a home-made link (a code typed into the chat) lets an attacker link their LINE account to a
victim's account, which is why nothing else links a LINE user here.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.i18n import catalogue
from app.integrations.line.client import LineApiError, issue_link_token, messaging_api, reply_button
from app.integrations.line.links import link_user
from app.integrations.secrets import unseal
from app.models.integrations import LineConnection, LineLink, LineLinkNonce
from app.models.shop import Shop
from app.models.types import utcnow

log = logging.getLogger(__name__)

DIALOG_URL = "https://access.line.me/dialog/bot/accountLink"
# The app proxy's subpath (shopify.app.toml [app_proxy]): https://{shop}/apps/tsunagu/line -> /proxy/line.
PROXY_PATH = "/apps/tsunagu/line"
# A link token lives 10 minutes (reference #issue-link-token); a nonce outliving it could never be used.
NONCE_TTL = timedelta(minutes=10)
NONCE_BYTES = 32  # 256 bits from the OS CSPRNG; LINE asks for a hard-to-guess, single-use value
_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{10,255}$")


def user_ref(line_user_id: str) -> str:
    """A short one-way reference to a LINE user for logs (the id itself is personal data)."""
    return hashlib.sha256(line_user_id.encode()).hexdigest()[:12]


def text(language: str) -> dict[str, str]:
    """The flow's user-visible strings (`line_link.*` in app/translations) for the page and the chat."""
    lang = language if language in ("ja", "en") else "ja"
    prefix = "line_link."
    return {k[len(prefix) :]: v for k, v in catalogue(lang).items() if k.startswith(prefix)}


def start_link(
    session: Session,
    shop: Shop,
    user_id: str,
    reply_token: str | None,
    language: str,
    http: httpx.Client | None = None,
) -> bool:
    """Steps 1-4: a link token for this LINE user, replied as a button to the storefront link page."""
    connection = session.get(LineConnection, shop.id)
    if connection is None or not reply_token:
        return False
    strings = text(language)
    try:
        api = messaging_api(unseal(shop.id, "line_access_token", connection.access_token_enc), http)
        link_token = issue_link_token(api, user_id)
        query = urlencode({"linkToken": link_token, "lang": language})
        page = f"https://{quote(shop.domain)}{PROXY_PATH}?{query}"
        reply_button(api, reply_token, strings["chat_prompt"], strings["chat_button"], page)
    except LineApiError as exc:
        log.warning(
            "LINE account link could not start for shop=%s user=%s: %s", shop.domain, user_ref(user_id), exc
        )
        return False
    return True


def valid_link_token(link_token: str) -> bool:
    """A link token as LINE issues them (URL-safe characters); anything else is refused before use."""
    return bool(_LINK_TOKEN.match(link_token))


def dialog_url(session: Session, shop: Shop, customer_id: str, link_token: str, language: str) -> str | None:
    """Steps 8-9: a fresh nonce for the logged-in customer, and LINE's account-link dialog URL carrying it."""
    if session.get(LineConnection, shop.id) is None:
        return None
    now = utcnow()
    # Spent and expired nonces of this shop are of no further use (kept a day for support questions).
    session.execute(
        delete(LineLinkNonce).where(
            LineLinkNonce.shop_id == shop.id, LineLinkNonce.expires_at < now - timedelta(days=1)
        )
    )
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    session.add(
        LineLinkNonce(
            shop_id=shop.id,
            nonce_hash=_digest(nonce),
            shopify_customer_id=str(customer_id),
            language=language if language in ("ja", "en") else "ja",
            created_at=now,
            expires_at=now + NONCE_TTL,
        )
    )
    session.flush()
    return f"{DIALOG_URL}?{urlencode({'linkToken': link_token, 'nonce': nonce})}"


def chat_url(session: Session, shop: Shop, language: str) -> str | None:
    """The shop's chat with 「連携」 (or LINK) typed in, which starts the flow; None without a LINE account.

    line.me/R/oaMessage/{basic id}/?{text} opens the chat with the message prefilled (LINE URL scheme).
    """
    connection = session.get(LineConnection, shop.id)
    if connection is None or not connection.bot_basic_id:
        return None
    word = "LINK" if language == "en" else "連携"
    return f"https://line.me/R/oaMessage/{quote(connection.bot_basic_id)}/?{quote(word)}"


def complete_link(
    session: Session, shop: Shop, user_id: str, result: str, nonce: str, now: datetime | None = None
) -> str:
    """Steps 11-12: link the event's LINE user to the nonce's customer, once; returns the outcome.

    Refused: an unknown nonce, one issued by another shop (each shop has its own channel, so its own
    webhook), a spent one (a replayed event), an expired one, `result: failed`, and a LINE user already
    linked to another customer of this shop (the existing link stays: moving it would let whoever holds
    a LINE account take over a member's messages; the customer's redaction or the merchant removes it).
    """
    now = now or utcnow()
    who = f"shop={shop.domain} user={user_ref(user_id)}"
    row = (
        session.scalar(select(LineLinkNonce).where(LineLinkNonce.nonce_hash == _digest(nonce)))
        if _NONCE.match(nonce)
        else None
    )
    if row is None:
        log.warning("LINE account link refused (unknown nonce) %s", who)
        return "unknown"
    if row.shop_id != shop.id:
        log.warning("LINE account link refused (nonce of another shop's channel) %s", who)
        return "other_shop"
    # Spend it first, in one conditional UPDATE: of two deliveries racing, exactly one gets the row.
    spent = session.execute(
        update(LineLinkNonce)
        .where(LineLinkNonce.id == row.id, LineLinkNonce.used_at.is_(None))
        .values(used_at=now)
        .returning(LineLinkNonce.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if spent is None:
        log.warning("LINE account link refused (nonce already used) %s", who)
        return "replayed"
    if row.expires_at <= now:
        log.warning("LINE account link refused (nonce expired) %s", who)
        return "expired"
    if result != "ok":
        log.info("LINE account link not completed (result=%s) %s", result[:16], who)
        return "failed"
    holder = session.scalar(
        select(LineLink).where(LineLink.shop_id == shop.id, LineLink.line_user_id == user_id)
    )
    if holder is not None and holder.shopify_customer_id != row.shopify_customer_id:
        log.warning("LINE account link refused (LINE user linked to another customer) %s", who)
        return "taken"
    link_user(session, shop, row.shopify_customer_id, user_id, row.language, now)
    log.info("LINE account linked %s", who)
    return "linked"


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()
