"""Faults on demand: 429s, 5xx, slow answers, dropped connections and THROTTLED storms."""

from __future__ import annotations

import io
import itertools
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import httpx

from emulator.transport import shop_from_environ

KINDS = ("rate_limit", "server_error", "slow", "drop", "throttled", "unexpected")
# An answer the app cannot have planned for: HTTP 200 with a GraphQL body whose `data` lacks every field
# asked for. Shopify documents no such answer; the fault exists so tests can show that one shop's odd answer
# fails that shop's task alone (a proxy, a partial outage or an API change can produce it).
UNEXPECTED_BODY: dict = {"data": {}, "extensions": {}}
CONTROL_PATH = "/_emulator/faults"
# Shopify's REST-style 429 body (https://shopify.dev/docs/api/usage/rate-limits#rest-admin-api-rate-limits).
RATE_LIMIT_BODY = {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume."}

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


@dataclass
class Fault:
    """One rule: which requests it hits (shop, path prefix, ratio, how many times) and what it does."""

    kind: str
    ratio: float = 1.0
    shop: str | None = None
    path: str = "/admin/"
    times: int | None = None
    status: int = 503
    retry_after: float = 2.0
    delay: float = 1.0
    id: int = 0
    fired: int = field(default=0)

    def matches(self, shop: str | None, path: str) -> bool:
        """Whether the rule applies to a request (before the ratio draw)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.shop is not None and self.shop != shop:
            return False
        if self.kind == "throttled" and not path.endswith("/graphql.json"):
            return False
        return path.startswith(self.path)


class FaultInjector:
    """WSGI middleware: applies the first matching fault; controlled from Python or POST /_emulator/faults."""

    def __init__(
        self,
        app: WSGIApp,
        state=None,
        *,
        seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.state = state
        self.sleep = sleep
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str | None, str]] = []  # (kind, shop, path) of every fault fired
        self._random = random.Random(seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, kind: str, **options) -> Fault:
        """Add a rule, e.g. add("rate_limit", ratio=0.5, shop="a.myshopify.com", retry_after=1)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
        fault = Fault(kind=kind, **options)
        if not 0.0 <= fault.ratio <= 1.0:
            raise ValueError("ratio must be between 0 and 1")
        with self._lock:
            fault.id = next(self._ids)
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule (the log stays)."""
        with self._lock:
            self.faults.clear()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return self._control(environ, start_response)
        fault = self._pick(shop_from_environ(environ), path)
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind == "rate_limit":
            return _json(
                start_response, "429 Too Many Requests", RATE_LIMIT_BODY, [("Retry-After", _num(fault))]
            )
        if fault.kind == "server_error":
            return _json(start_response, f"{fault.status} Error", {"errors": "Internal Server Error"})
        if fault.kind == "unexpected" and path.endswith("/graphql.json"):
            return _json(start_response, "200 OK", UNEXPECTED_BODY)
        if fault.kind == "slow":
            self.sleep(fault.delay)
        elif fault.kind == "drop":
            return _drop_connection(environ, start_response)
        elif fault.kind == "throttled":
            self._drain_bucket(environ)
        return self.app(environ, start_response)

    def _pick(self, shop: str | None, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(shop, path) and self._random.random() < fault.ratio:
                    fault.fired += 1
                    self.log.append((fault.kind, shop, path))
                    return fault
        return None

    def _drain_bucket(self, environ: dict) -> None:
        """Leave the shop's bucket just short of this query's cost, so the GraphQL view answers THROTTLED."""
        shop = shop_from_environ(environ)
        if self.state is None or shop not in self.state.shops:
            return
        body = _read_body(environ)
        bucket = self.state.shop(shop).bucket
        cost = _requested_cost(body)
        if cost is None:
            bucket.drain()
        else:
            bucket.drain(max(0.0, bucket.available - (cost - 1)))

    def _control(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST":
            try:
                options = json.loads(_read_body(environ) or b"{}")
                fault = self.add(options.pop("kind", ""), **options)
            except (TypeError, ValueError) as exc:
                return _json(start_response, "400 Bad Request", {"error": str(exc)})
            return _json(start_response, "201 Created", asdict(fault))
        if method == "DELETE":
            self.clear()
            return _json(start_response, "200 OK", {"faults": []})
        with self._lock:
            listing = {"faults": [asdict(f) for f in self.faults], "fired": len(self.log)}
        return _json(start_response, "200 OK", listing)


def _requested_cost(body: bytes) -> int | None:
    """The GraphQL half's requested cost for a request body, or None when it does not parse."""
    from graphql import GraphQLError, get_operation_ast, parse

    from emulator.cost import requested_cost

    try:
        payload = json.loads(body)
        document = parse(payload["query"])
        operation = get_operation_ast(document, payload.get("operationName"))
        if operation is None:
            return None
        return requested_cost(document, operation, payload.get("variables"))
    except (ValueError, KeyError, TypeError, GraphQLError):
        return None


def _read_body(environ: dict) -> bytes:
    """Read the request body and put it back so the wrapped app can read it too."""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked upload through werkzeug's server
        body = environ["wsgi.input"].read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _drop_connection(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Close the connection without an HTTP response."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        # In-process (httpx.WSGITransport, Flask test client) there is no socket: raise what httpx raises
        # when a server hangs up, so the caller's retry logic sees the same exception as in production.
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    sock.shutdown(socket.SHUT_RDWR)
    # Writing now fails with a broken pipe, which werkzeug treats as a client disconnect (no error log).
    start_response("500 Internal Server Error", [("Content-Length", "0")])
    return [b""]


def _json(start_response: Callable, status: str, body: object, extra: list | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(extra or [])]
    start_response(status, headers)
    return [data]


def _num(fault: Fault) -> str:
    value = fault.retry_after
    return str(int(value)) if float(value).is_integer() else str(value)
