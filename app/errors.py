"""Error handlers: a clear status and message, never a stack trace or a secret."""

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    if request.path.startswith(("/webhooks", "/integrations", "/api")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def _render(status: int, title: str, message: str):
    if _wants_json():
        return jsonify(error=title, message=message), status
    return render_template("error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Attach handlers for HTTP errors and for anything unexpected."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _render(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # The type only: exception messages can carry payload fragments (personal data) or secrets.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.path)
        log.debug("unhandled exception", exc_info=exc)
        return _render(500, "Internal Server Error", "Something went wrong on our side. It has been logged.")
