"""Gunicorn's access and error lines in the app's JSON format (`logger_class` in gunicorn.conf.py)."""

from __future__ import annotations

import logging

from gunicorn import glogging

from app.observability.logs import JsonFormatter


class JsonLogger(glogging.Logger):
    """The access line: method, path (never the query string: it carries id_token and hmac), status, bytes,
    duration and the request id the app echoed in X-Request-ID. No client address, referer or user agent."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        request_id = next((v for k, v in resp.headers if k.lower() == "x-request-id"), None)
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-")
        http = {
            "method": method,
            "path": path,
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
        }
        try:
            self.access_log.log(
                logging.INFO, "%s %s %s", method, path, status, extra={"request_id": request_id, "http": http}
            )
        except Exception:
            self.exception("access log line failed")
