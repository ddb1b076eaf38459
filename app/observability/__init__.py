"""What operators see: JSON log lines with request ids, /metrics, heartbeats for /readyz, optional Sentry."""

from __future__ import annotations

from flask import Flask

from app.observability.heartbeats import init_cli
from app.observability.logs import configure, init_request_ids
from app.observability.metrics import init_metrics
from app.observability.reporting import init_sentry, report_handled_errors


def init_app(app: Flask) -> None:
    """Logging, request ids, /metrics and error reporting for the app (/healthz and /readyz: app.health)."""
    settings = app.config["SETTINGS"]
    configure(settings)
    init_request_ids(app)
    init_metrics(app)
    init_cli(app)
    if init_sentry(settings) is not None:
        report_handled_errors(app)
