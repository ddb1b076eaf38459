"""GET /healthz (liveness: the process is up and the database answers) and GET /readyz (readiness)."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.observability import heartbeats

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when a trivial query succeeds, 503 otherwise (load balancers take the instance out)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database answers and a worker and a syncer beat within HEARTBEAT_STALE_SECONDS.

    503 names what is missing or stale. It describes the whole deployment, not this web process: use it to
    wait for a deployment to come up and to alert, not to route traffic (that is /healthz), or one stopped
    worker would take every web process out of the load balancer and stop webhook intake too.
    """
    stale_after = current_app.config["SETTINGS"].heartbeat_stale_seconds
    try:
        db.session.execute(text("SELECT 1"))
        processes = heartbeats.readiness(heartbeats.recent(db.session), stale_after)
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="down"), 503
    waiting = sorted(kind for kind, info in processes.items() if info["state"] != "ok")
    body = {"status": "unavailable" if waiting else "ok", "database": "ok", "waiting_for": waiting}
    return jsonify(body | processes), 503 if waiting else 200
