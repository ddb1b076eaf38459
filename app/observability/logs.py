"""Log lines for operators: one JSON object per line, with the request id and, when known, shop/topic/outcome.

A small stdlib `logging.Formatter` rather than python-json-logger: what matters here is which fields may
appear (a whitelist, so personal data cannot ride along in `extra`), the redaction pass over every message
and exceptions reduced to their type and frames; with python-json-logger we would override all of that
and gain only its field plumbing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from app.config import Settings

# Fields a line may carry besides timestamp/level/logger/message. `shop` is the shop's myshopify domain
# (a merchant, not a person); nothing else from a request or a payload is ever copied into a line.
CONTEXT_FIELDS = ("shop", "topic", "outcome")
# Structured blocks passed with `extra=` by our own code (the gunicorn access line).
EXTRA_BLOCKS = ("http", "process")
_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("tsunagu_log_context", default=None)

# Accepted as given (a proxy's or the platform's id, e.g. Heroku's router or nginx's $request_id), else ours.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

# Defence in depth: the code logs ids, never personal data (each log call was written so), but a library's
# message or a future line could quote a value. These patterns blank what must never reach a log at all.
_REDACTIONS = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\+\d{9,15}\b"), "[phone]"),  # E.164
    (re.compile(r"(?<![\w-])0\d{1,4}-\d{1,4}-\d{3,4}\b"), "[phone]"),  # Japanese formats: 03-1234-5678
    (re.compile(r"(?<!\d)0[5789]0\d{8}(?!\d)"), "[phone]"),  # 09012345678
    (re.compile(r"\bshp[a-z]{2}_[0-9A-Za-z_]{8,}"), "[token]"),  # Shopify access/refresh tokens
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), "[jwt]"),  # App Bridge session tokens and other JWTs
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 [token]"),
    # Query strings carry id_token, hmac and signed download URLs' signatures: keep the path, drop the rest.
    (re.compile(r"\?[^\s\"'<>]*=[^\s\"'<>]*"), "?[query]"),
)
# `key=%s` in a message template: the value of key is also a field of the line (the code base logs so).
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_KEYED = re.compile(r"(\w+)=$")


def redact(text: str) -> str:
    """The text with emails, phone numbers, tokens and query strings blanked."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Lines logged inside carry these fields (only CONTEXT_FIELDS; None values are left out)."""
    current = dict(_CONTEXT.get() or {})
    current.update({k: str(v) for k, v in fields.items() if k in CONTEXT_FIELDS and v is not None})
    token = _CONTEXT.set(current)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    if not has_request_context():
        return None
    return g.get("request_id")


def _lifted(record: logging.LogRecord) -> dict[str, str]:
    """CONTEXT_FIELDS named as `key=%s` in the message template, with their arguments."""
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple) or "=%" not in record.msg:
        return {}
    found: dict[str, str] = {}
    position = 0
    for match in _PLACEHOLDER.finditer(record.msg):
        if match.group() == "%%":
            continue
        if position >= len(record.args):
            return {}
        key = _KEYED.search(record.msg, 0, match.start())
        if key and key.group(1) in CONTEXT_FIELDS and key.end() == match.start():
            found[key.group(1)] = str(record.args[position])
        position += 1
    return found if position == len(record.args) else {}


def _exception(exc_info) -> dict[str, Any]:
    """Type and frames only: exception messages (drivers, libraries) can quote row values."""
    kind, _value, tb = exc_info
    frames = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]
    return {"type": getattr(kind, "__name__", str(kind)), "frames": frames[-20:]}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The line's fields, in order: timestamp, level, logger, message, request_id, context, extras."""
    # `pii_free`: the caller built the line only from values that matched strict patterns (the webhook
    # edge's per-delivery line: topic, shop domain, UUID), so the redaction pass would find nothing.
    checked = getattr(record, "pii_free", False) is True
    message = record.getMessage()
    entry: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6]
        + "Z",
        "level": record.levelname,
        "logger": record.name,
        "message": message if checked else redact(message),
    }
    request_id = getattr(record, "request_id", None) or current_request_id()
    if request_id:
        entry["request_id"] = request_id
    context = _CONTEXT.get() or {}
    if not checked:
        context = {**context, **_lifted(record)}
    for key in CONTEXT_FIELDS:
        value = getattr(record, key, None) or context.get(key)
        if value is not None and value != "-":
            entry[key] = (str(value) if checked else redact(str(value)))[:255]
    for key in EXTRA_BLOCKS:
        block = getattr(record, key, None)
        if isinstance(block, dict):
            entry[key] = {k: redact(v) if isinstance(v, str) else v for k, v in block.items()}
    if record.exc_info and record.exc_info[0] is not None:
        entry["exception"] = _exception(record.exc_info)
    return entry


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see fields_of)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields_of(record), ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for a developer's terminal, with the same redaction and fields appended."""

    def format(self, record: logging.LogRecord) -> str:
        entry = fields_of(record)
        extra = " ".join(
            f"{k}={entry[k]}" for k in ("request_id", *CONTEXT_FIELDS) if k in entry and k != "message"
        )
        line = f"{entry['timestamp']} {entry['level']} {entry['logger']} {entry['message']}"
        if "exception" in entry:
            line += (
                f" exception={entry['exception']['type']} at {' < '.join(entry['exception']['frames'][-3:])}"
            )
        return f"{line} [{extra}]" if extra else line


def formatter_for(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else TextFormatter()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (as logging.lastResort does)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(settings: Settings) -> None:
    """Root logging in the chosen format at the chosen level; idempotent (create_app may run many times).

    Formats the plain stream handlers on the root logger (logging.basicConfig's), adding one on stderr when
    there is none; handlers of other types (pytest's capture, a platform's agent) are left alone.
    """
    root = logging.getLogger()
    plain = [h for h in root.handlers if type(h) in (logging.StreamHandler, _StderrHandler)]
    if not root.handlers:
        plain = [_StderrHandler()]
        root.addHandler(plain[0])
    formatter = formatter_for(settings)
    for handler in plain:
        handler.setFormatter(formatter)
    root.setLevel(settings.log_level)
    # httpx logs every request's full URL at INFO, query string included: the signed bulk-export URLs
    # (https://shopify.dev/docs/api/usage/bulk-operations/queries) would land in the logs.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def init_request_ids(app: Flask) -> None:
    """Every request gets an id (a sane X-Request-ID header, else a new one), logged and echoed back."""
    # First among the before-request hooks: lines logged by the others carry the id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.after_request(_echo_request_id)
