"""Optional error reporting to Sentry (only when SENTRY_DSN is set), with personal data kept out.

`send_default_pii=False` alone is not enough (https://docs.sentry.io/platforms/python/data-management/
sensitive-data/): the SDK still sends exception messages, local variables, request bodies, query strings and
the URLs of outgoing HTTP calls. So locals and bodies are off, and every event and breadcrumb goes through
the same redaction as the log lines, with exception messages dropped (drivers quote row values in them).
"""

from __future__ import annotations

import sys
from typing import Any

import sentry_sdk
from flask import Flask
from sentry_sdk.integrations.logging import ignore_logger

from app.config import Settings
from app.observability.logs import redact

SAFE_HEADERS = {"content-type", "content-length", "user-agent", "x-request-id", "x-shopify-topic"}


def process_kind(argv: list[str] | None = None) -> str:
    """web, worker, syncer or cli: from the command line that started this process (a tag on reports)."""
    argv = sys.argv if argv is None else argv
    if argv and "gunicorn" in argv[0].rsplit("/", 1)[-1]:
        return "web"
    words = set(argv[1:])
    if "worker" in words:
        return "worker"
    if "sync" in words:
        return "syncer"
    return "cli"


def _scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    if isinstance(crumb.get("message"), str):
        crumb["message"] = redact(crumb["message"])
    data = crumb.get("data")
    if isinstance(data, dict):
        data.pop("http.query", None)
        data.pop("http.fragment", None)
        for key, value in list(data.items()):
            if isinstance(value, str):
                data[key] = redact(value.split("?", 1)[0] if key == "url" else value)
    return crumb


def scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """before_send: no query strings, bodies, cookies or unlisted headers; exception messages dropped."""
    req = event.get("request")
    if isinstance(req, dict):
        for key in ("query_string", "data", "cookies", "env"):
            req.pop(key, None)
        if isinstance(req.get("url"), str):
            req["url"] = req["url"].split("?", 1)[0]
        headers = req.get("headers")
        if isinstance(headers, dict):
            req["headers"] = {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS}
    for exc in (event.get("exception") or {}).get("values") or []:
        exc["value"] = ""  # the type and the frames stay
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    entry = event.get("logentry")
    if isinstance(entry, dict):
        for key in ("message", "formatted"):
            if isinstance(entry.get(key), str):
                entry[key] = redact(entry[key])
        entry.pop("params", None)
    if isinstance(event.get("message"), str):
        event["message"] = redact(event["message"])
    event.pop("extra", None)
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        _scrub_breadcrumb(crumb)
    return event


def init_sentry(settings: Settings, **options: Any):
    """Start the Sentry SDK for this process when SENTRY_DSN is set; returns its guard, else None."""
    if not settings.sentry_dsn:
        return None
    guard = sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub,  # type: ignore[arg-type]  # sentry types events as a TypedDict; a dict at run time
        before_breadcrumb=_scrub_breadcrumb,
        **options,
    )
    sentry_sdk.set_tag("process", process_kind())
    return guard


def report_handled_errors(app: Flask) -> None:
    """Send the exceptions the app's catch-all error handler turns into a 500 page to Sentry.

    Sentry's Flask integration only sees exceptions no handler took (Flask's got_request_exception signal);
    the app answers every one itself (app/errors.py), so its handler is wrapped to report first. Its log
    line about the same error is then left out of Sentry, or each error would arrive twice.
    """
    handlers = app.error_handler_spec[None][None]
    original = handlers.get(Exception)
    if original is None or getattr(original, "reports_to_sentry", False):
        return

    def reported(exc: Exception):
        sentry_sdk.capture_exception(exc)
        return original(exc)

    reported.reports_to_sentry = True  # type: ignore[attr-defined]  # a marker the tests look for
    handlers[Exception] = reported
    ignore_logger(original.__module__)
