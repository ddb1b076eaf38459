"""POST /webhooks, answered in plain WSGI in front of Flask; every other path goes on to Flask.

Shopify waits 5 s for an answer (https://shopify.dev/docs/apps/build/webhooks/subscribe/https) and a busy
store sends bursts, so this endpoint does only what a 200 promises: verify, record (app/webhooks/receive.py),
answer. Flask's per-request work (contexts, session cookie, hooks) cost more CPU than the driver's side of
the insert; what those hooks gave the endpoint is done here directly: the request id (taken when sane,
echoed back), the security headers, the JSON error bodies, 413 over the body limit. Overload is answered 503
at once (app/webhooks/edge.py). One log line per delivery names topic, shop, delivery id and outcome, never
the body.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from flask import Flask
from sqlalchemy.engine import Connection

from app.extensions import db
from app.observability.logs import REQUEST_ID
from app.webhooks.edge import RETRY_AFTER_SECONDS, Edge
from app.webhooks.receive import Received, SessionStore, receive

log = logging.getLogger(__name__)

PATH = "/webhooks"
EDGE_KEY = "tsunagu_webhook_edge"
UNSAFE = re.compile(r"[^\x21-\x7e]")
LINE = "webhook topic=%s shop=%s delivery=%s outcome=%s status=%d"
# What app/security.py adds to every Flask response, less what only pages need.
FIXED_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _safe(value: str | None, limit: int = 64) -> str:
    """A header value fit for a log line: printable ASCII only, bounded (headers are attacker-controlled)."""
    if not value:
        return "-"
    return UNSAFE.sub("?", value[:limit])


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is over `limit` (a declared length over it is not read at all).

    Without Content-Length, only a body the server marks as terminated (gunicorn: chunked) is read, up to
    the limit; otherwise it is empty, as werkzeug reads it (a read could block on a kept-alive socket).
    """
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH")
    if declared and declared.isdigit():
        length = int(declared)
        return None if length > limit else stream.read(length)
    if environ.get("wsgi.input_terminated"):
        data = stream.read(limit + 1)
        return None if len(data) > limit else data
    return b""


def _json(status: int, error: str, extra: Headers | None = None) -> tuple[int, bytes, Headers]:
    """A JSON error body, as the Flask views answer (`error` is one of our outcome names)."""
    body = b'{"error":"%s"}\n' % error.encode("ascii")
    return (
        status,
        body,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *(extra or [])],
    )


class WebhookEndpoint:
    """The WSGI layer: `app.wsgi_app = WebhookEndpoint(app, app.wsgi_app)` (create_app does it)."""

    def __init__(self, app: Flask, downstream: WSGIApp) -> None:
        self.app = app
        self.downstream = downstream
        settings = app.config["SETTINGS"]
        self.secrets = (settings.api_secret, settings.api_secret_previous)
        self.limit = int(app.config["MAX_CONTENT_LENGTH"])
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.downstream(environ, start_response)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        try:
            status, body, headers = self._handle(environ, request_id)
        except Exception as exc:  # a bug: answered like Flask's catch-all (app/errors.py), logged by type
            log.error("unhandled %s on POST %s", type(exc).__name__, PATH, exc_info=exc)
            status, body, headers = _json(500, "internal_error")
        headers += FIXED_HEADERS
        headers.append(("X-Request-ID", request_id))
        start_response(STATUS_LINES[status], headers)
        return [body]

    def _handle(self, environ: dict[str, Any], request_id: str) -> tuple[int, bytes, Headers]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _json(405, "method_not_allowed", [("Allow", "POST")])
        connection = self._caller_connection()
        edge = self.edge() if connection is None else None
        if edge is not None:
            reason = edge.overloaded(environ.get("HTTP_X_REQUEST_START"))
            if reason is not None:  # before any work: the cheapest possible answer
                return self._shed(edge, reason)
        body = read_body(environ, self.limit)
        if body is None:
            return self._answer(
                Received(413, "too_large", _header(environ, "TOPIC"), _header(environ, "SHOP_DOMAIN"), ""),
                request_id,
            )
        if edge is not None:
            result = receive(edge, body, environ, self.secrets)
            if result.outcome == "shed_db_wait":
                return self._shed(edge, "db_wait")
            if edge.shed_count:
                edge.report()
        else:
            with self.app.app_context():
                result = receive(SessionStore(db.session), body, environ, self.secrets)
        return self._answer(result, request_id)

    @staticmethod
    def _caller_connection() -> Connection | None:
        """The connection the app's session is bound to when its caller holds the transaction (a test's
        rolled-back one): deliveries are then written inside it, through the session. Else None."""
        bind = getattr(db.session, "session_factory", None)
        bound = bind.kw.get("bind") if bind is not None else None
        return bound if isinstance(bound, Connection) else None

    def edge(self) -> Edge:
        """This process's edge, built on first use (after gunicorn forked: its pool is this process's)."""
        edge = self.app.extensions.get(EDGE_KEY)
        if edge is None:
            with self._lock:
                edge = self.app.extensions.get(EDGE_KEY)
                if edge is None:
                    with self.app.app_context():
                        url = db.engine.url.render_as_string(False)
                    options = self.app.config["SQLALCHEMY_ENGINE_OPTIONS"]
                    edge = self.app.extensions[EDGE_KEY] = Edge(self.app.config["SETTINGS"], url, options)
        return edge

    @staticmethod
    def _shed(edge: Edge, reason: str) -> tuple[int, bytes, Headers]:
        """503 with Retry-After: nothing was stored, so Shopify's retry loses nothing."""
        edge.shed(reason)
        return _json(503, f"shed_{reason}", [("Retry-After", str(RETRY_AFTER_SECONDS))])

    @staticmethod
    def _answer(result: Received, request_id: str) -> tuple[int, bytes, Headers]:
        topic, shop = _safe(result.topic), _safe(result.shop, 255)
        # The values are also passed as the line's fields, so the formatter need not lift them from the
        # message; `pii_free` lets it skip the redaction pass when they matched strict patterns.
        log.info(
            LINE,
            topic,
            shop,
            _safe(result.delivery_id, 128),
            result.outcome,
            result.status,
            extra={
                "request_id": request_id,
                "topic": topic,
                "shop": shop,
                "outcome": result.outcome,
                "pii_free": result.plain,
            },
        )
        if result.status < 400:
            return result.status, b"", [("Content-Length", "0")]
        return _json(result.status, result.outcome)


def _header(environ: dict[str, Any], name: str) -> str:
    return (environ.get(f"HTTP_X_SHOPIFY_{name}") or "").strip().lower()


def install(app: Flask) -> None:
    """Put the endpoint in front of the app's WSGI callable (Sentry and gunicorn still wrap it)."""
    app.wsgi_app = WebhookEndpoint(app, app.wsgi_app)  # type: ignore[method-assign]
