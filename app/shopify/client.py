"""Admin GraphQL client: one shop, its token (refreshed on 401), cost readings, and errors as exceptions."""

from __future__ import annotations

import json
import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import httpx
from shopify_app import GQLResult
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from app.extensions import db
from app.models import Shop, ShopSyncStatus
from app.shopify.errors import (
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyThrottled,
    ShopifyUnavailable,
    ShopifyUserErrors,
)
from app.shopify.graphql import load_document
from app.shopify.http import shopify_http_client
from app.shopify.sdk import settings, shop_name, shopify_app
from app.shopify.tokens import access_token_for, token_session

log = logging.getLogger(__name__)

# Budget readings are written at most this often per shop and process (and always when throttled):
# the sync-health page needs a recent value, not one write per API call.
COST_WRITE_INTERVAL = 5.0
_cost_written: dict[int, float] = {}
_cost_lock = threading.Lock()


class AdminClient:
    """Runs Admin GraphQL documents for one shop; `execute` returns `data` or raises a ShopifyError."""

    def __init__(
        self,
        shop: Shop,
        *,
        session: Session | None = None,
        http: httpx.Client | None = None,
        max_retries: int = 2,
    ) -> None:
        self.shop = shop
        self.shop_id = shop.id
        self.domain = shop.domain
        # What the token look-up needs, read once: touching `shop` after the caller's commit expired it
        # would begin a transaction (on SQLite, the write lock) just before the call to Shopify.
        self._ref: Any = SimpleNamespace(id=self.shop_id, domain=self.domain)  # what tokens reads of a Shop
        self.session = session  # ended (committed) before each call to Shopify
        self.http = http
        self.max_retries = max_retries  # shopifyapp retries 429/502/503/504 with backoff this many times
        self.last_cost: dict[str, Any] | None = None

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a document (a name in app/shopify/graphql/ or its text) and return its `data`.

        The caller's transaction is ended (committed) first: no transaction stays open while Shopify answers.
        """
        query = load_document(document)
        self.end_transaction()
        token = access_token_for(self._ref)
        result = self._post(query, variables, token)
        if result.response.status == 401:
            # Revoked or expired early: refresh once (or pick up another process's refresh), then retry once.
            token = access_token_for(self._ref, rejected=token)
            result = self._post(query, variables, token)
            if result.response.status == 401:
                raise ShopifyAuthError("Shopify rejected the refreshed access token")
        return self._data(result)

    def end_transaction(self) -> None:
        """Commit the caller's open transaction (its own session, else the thread's `db.session`).

        A Shopify call takes up to seconds, a pacer wait longer: a transaction kept open across it would hold
        its row locks on PostgreSQL and, on SQLite, the database's only write lock (app/sqlite.py), so every
        webhook would wait for Shopify. Nothing is lost by committing here: a Shopify call cannot be rolled
        back with the database anyway, so code that calls Shopify already commits what must survive it.
        """
        session = self.session
        if session is None:
            try:
                session = db.session()
            except RuntimeError:  # outside an application context: no session of the caller's
                return
        elif isinstance(session, scoped_session):
            session = session()
        if not session.in_transaction():
            return
        # Without expiring what the caller loaded: reloading it (this client's shop, to begin with) would
        # begin the next transaction before the call, which is what ending this one is for.
        expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire_on_commit

    def _post(self, query: str, variables: dict[str, Any] | None, token: str) -> GQLResult:
        config = settings()
        owned = self.http is None
        http = self.http or shopify_http_client(config)
        try:
            return shopify_app(config).admin_graphql_request(
                query,
                shop=shop_name(self.domain),
                access_token=token,
                api_version=config.api_version,
                variables=variables,
                max_retries=self.max_retries,
                http_client=http,
            )
        finally:
            if owned:
                http.close()

    def _data(self, result: GQLResult) -> dict[str, Any]:
        status = result.response.status
        if result.ok:
            self._record_cost(result.extensions, throttled=False)
            data = result.data or {}
            _raise_user_errors(data)
            return data
        if status == 200:  # GraphQL-level errors: shopifyapp keeps the raw body for us
            body = _json(result.response.body)
            errors = body.get("errors") or []
            extensions = body.get("extensions") or {}
            if any(
                (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)
            ):
                self._record_cost(extensions, throttled=True)
                raise ShopifyThrottled("THROTTLED", cost=extensions.get("cost"))
            self._record_cost(extensions, throttled=False)
            messages = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
            raise ShopifyGraphQLError(messages or "GraphQL errors", errors=errors)
        if status == 0 or status == 429 or status >= 500:
            raise ShopifyUnavailable(f"Shopify unavailable ({result.log.code})", status=status or None)
        if status in (401, 403):
            raise ShopifyAuthError(f"Shopify refused the request ({status})")
        raise ShopifyGraphQLError(f"unexpected HTTP {status} from the Admin API")

    def _record_cost(self, extensions: dict[str, Any] | None, *, throttled: bool) -> None:
        cost = (extensions or {}).get("cost")
        if not cost:
            return
        self.last_cost = cost
        now = time.monotonic()
        with _cost_lock:
            if not throttled and now - _cost_written.get(self.shop_id, float("-inf")) < COST_WRITE_INTERVAL:
                return
            _cost_written[self.shop_id] = now
        try:
            # Its own short transaction, never the caller's: the caller's ended before the call (execute),
            # and a reading written into it would keep SQLite's write lock until the caller's next commit.
            with token_session() as session:
                _write_cost(session, self.shop_id, cost, throttled)
                session.commit()
        except SQLAlchemyError:  # a reading for the health page must never fail the API call itself
            log.warning("could not record API budget for shop %s", self.shop_id)


def _write_cost(session: Session, shop_id: int, cost: dict[str, Any], throttled: bool) -> None:
    """Store the reading; on PostgreSQL skip it rather than wait when another transaction holds the row."""
    status = cost.get("throttleStatus") or {}
    values: dict[str, Any] = {
        "api_available": _int(status.get("currentlyAvailable")),
        "api_maximum": _int(status.get("maximumAvailable")),
        "api_restore_rate": _int(status.get("restoreRate")),
    }
    where = ShopSyncStatus.shop_id == shop_id
    if session.execute(select(ShopSyncStatus.shop_id).where(where)).first() is None:
        try:
            with session.begin_nested():
                session.add(ShopSyncStatus(shop_id=shop_id, throttled_count=int(throttled), **values))
        except IntegrityError:
            pass  # created meanwhile by someone else: the next reading lands
        return
    if session.get_bind().dialect.name == "postgresql":
        free = session.execute(select(ShopSyncStatus.shop_id).where(where).with_for_update(skip_locked=True))
        if free.first() is None:
            return  # a long transaction holds the row: drop this reading rather than wait
    bump = {"throttled_count": ShopSyncStatus.throttled_count + 1} if throttled else {}
    stmt = update(ShopSyncStatus).where(ShopSyncStatus.shop_id == shop_id).values(**values, **bump)
    session.execute(stmt.execution_options(synchronize_session=False))


def _raise_user_errors(data: dict[str, Any]) -> None:
    """Raise ShopifyUserErrors when a top-level mutation payload reports `userErrors`."""
    for field, payload in data.items():
        if isinstance(payload, dict) and payload.get("userErrors"):
            raise ShopifyUserErrors(field, list(payload["userErrors"]), data)


def _json(body: str) -> dict[str, Any]:
    try:
        value = json.loads(body or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None
