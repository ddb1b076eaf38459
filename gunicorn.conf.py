"""Gunicorn settings, read from the working directory (the Procfile's and the container's web process).

Sizing comes from the platform's variables (WEB_CONCURRENCY, WEB_THREADS, PORT, FORWARDED_ALLOW_IPS), as
with the Procfile before; command-line flags (`make demo`, the benchmarks) override everything here.
"""

import os

from app.config import load_settings

_settings = load_settings()

bind = f"0.0.0.0:{int(os.environ.get('PORT', '8000'))}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))  # gthread: threads > 1 selects it
# A request silent this long is a stuck worker: killed and replaced. Shopify waits 5 s for a webhook's
# answer (its HTTPS delivery docs) and pages answer in milliseconds, so 30 s only ever catches a hang.
timeout = 30
# SIGTERM (a deploy, a scale-down): requests in flight get this long to finish before the worker is killed.
graceful_timeout = 25
# Idle keep-alive connections stay open longer than common load balancers' idle timeouts (AWS ALB: 60 s),
# so the balancer closes them, never gunicorn mid-reuse (a 502). gthread parks idle connections in its
# poller, not on a thread.
keepalive = 75
# Trust X-Forwarded-Proto/For only from these addresses (the platform's router or the local proxy).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The worker heartbeat file on tmpfs: on a container's overlay filesystem os.fchmod can block a worker
# (gunicorn FAQ, "Blocking os.fchmod").
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  (gunicorn's own files)
# No control socket (gunicornc, gunicorn >= 25.1): nothing here uses it, and in the container it would be
# written under the app's read-only home directory.
control_socket_disable = True

accesslog = "-"
if _settings.log_format == "json":
    # Access and error lines as JSON objects, the same fields as the app's (app/observability/logs.py).
    logger_class = "app.observability.gunicorn_logging.JsonLogger"
# Text access lines (development) without query strings or referers: page loads carry `id_token` (a
# session token) and Shopify's `hmac` in the query, and nothing may log a token. %(U)s is the path alone.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
