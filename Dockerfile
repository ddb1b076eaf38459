# One image for every process type: `docker run IMAGE web|worker|syncer|release` (release: `flask db upgrade`).
# Anything else runs as a command in the app's environment, e.g. `docker run IMAGE flask inbox`.
# `--target emulator` builds the Shopify emulator for local runs (compose.yaml); it is never deployed.

# The official Python image, Debian bookworm slim, pinned by patch release and by the digest of its
# multi-architecture index, so a rebuild gets the same base. Refresh both together (`docker buildx
# imagetools inspect python:3.11-slim-bookworm`); the Python line must match .python-version.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    FLASK_APP=app:create_app
# The process runs as this unprivileged user; the code and the venv stay root's, read-only to it.
RUN groupadd --system --gid 10001 tsunagu \
    && useradd --system --uid 10001 --gid tsunagu --home-dir /app --no-create-home --shell /usr/sbin/nologin tsunagu \
    && python -m venv /opt/venv
WORKDIR /app
# Exact versions and file hashes from the lockfile: pip refuses anything unpinned or altered. Every wheel
# in it is a binary for this platform (psycopg-binary included), so no compiler is needed.
COPY requirements.lock ./
RUN pip install --require-hashes --only-binary=:all: -r requirements.lock

FROM base AS emulator
COPY requirements-dev.lock ./
RUN pip install --require-hashes --only-binary=:all: -r requirements-dev.lock
COPY shopify.app.toml ./
COPY emulator/ emulator/
USER 10001:10001
EXPOSE 9292
ENTRYPOINT ["python", "-m", "emulator"]
CMD ["--host", "0.0.0.0", "--port", "9292"]

FROM base AS app
COPY gunicorn.conf.py shopify.app.toml ./
COPY migrations/ migrations/
COPY templates/ templates/
COPY static/ static/
COPY app/ app/
USER 10001:10001
EXPOSE 8000
# Each process type by name. `exec` replaces the shell, so the process itself is PID 1 and gets the
# SIGTERM of `docker stop` (the worker and the syncer finish their current item, gunicorn drains).
ENTRYPOINT ["/bin/sh", "-c", "case \"$1\" in web) exec gunicorn 'app:create_app()' ;; worker) exec flask worker ;; syncer) exec flask sync ;; release) exec flask db upgrade ;; *) exec \"$@\" ;; esac", "tsunagu"]
CMD ["web"]
