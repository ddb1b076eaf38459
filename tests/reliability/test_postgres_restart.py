"""PostgreSQL goes away for a while under webhook load: never a 200 for a delivery that was not persisted,
and every order is credited once after the database is back (Shopify's retries bring the refused ones).

Real processes: the app under gunicorn, two `flask worker`s and `flask sync`, a private PostgreSQL cluster
stopped with `pg_ctl -m immediate` (connections drop as in a crash) and started again; the emulator's
webhook sender retries non-2xx answers on Shopify's schedule, compressed in time. Every process lives
through the outage and resumes by itself; afterwards the books balance.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from app import create_app
from app.config import load_settings
from app.extensions import db
from app.models import InboxEvent, LedgerTransaction, Purchase, Shop
from emulator.webhook_sender import WebhookSender
from tests.conftest import TEST_ENV
from tests.integration.webhooks.support import SECRET, SHOP, later, order_body
from tests.integration.worker.processes import ROOT, start_worker, stop_workers, worker_env
from tests.reliability.books import books_balance
from tests.reliability.conftest import size
from tests.reliability.private_postgres import PrivatePostgres, binaries
from tests.reliability.processes import gunicorn_app

RATE = size(8, 20)  # orders per second
BEFORE, AFTER = 4, 4  # seconds of load around the outage
OUTAGE = size(6, 60)  # seconds the database is down
OPEN_ROWS = text("SELECT count(*) FROM inbox_events WHERE status IN ('pending', 'processing')")
TIME_SCALE = 0.02  # Shopify's 8 retries over 4 h become ~5 min; the first few come within seconds


def _cluster(root: Path) -> PrivatePostgres:
    if binaries() is None:
        pytest.skip("no PostgreSQL binaries under /usr/lib/postgresql/*/bin to run a private cluster")
    try:
        cluster = PrivatePostgres(root)
        cluster.init()
        cluster.start()
    except (FileNotFoundError, KeyError, OSError) as exc:
        pytest.skip(f"cannot run a private PostgreSQL cluster here: {exc}")
    return cluster


def _start_syncer(url: str, log_path: Path) -> subprocess.Popen:
    """`flask sync` as deployed (its own process and connections), output to a log file."""
    log = log_path.open("ab")
    args = [sys.executable, "-m", "flask", "sync", "--interval", "0.5"]
    return subprocess.Popen(args, cwd=ROOT, env=worker_env(url), stdout=log, stderr=subprocess.STDOUT)


def _tail(path: Path, offset: int) -> str:
    """What a log gained after `offset` bytes."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def _schema(url: str) -> None:
    application = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=url)))
    with application.app_context():
        db.create_all()
        db.session.add(Shop(domain=SHOP, status="installed"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgres  # its own cluster, so it runs once: in the PostgreSQL half of `make test`
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_database_outage_under_load_never_acknowledges_unpersisted_and_loses_nothing():
    root = Path(tempfile.mkdtemp(prefix="tsunagu-pg-"))
    cluster = _cluster(root)
    try:
        _schema(cluster.url)
        logs = root / "logs"
        logs.mkdir()
        total = RATE * (BEFORE + OUTAGE + AFTER)
        with gunicorn_app(cluster.url, logs / "web.log") as (base, _):
            workers = [start_worker(cluster.url, logs / f"worker{i}.log", lease_seconds=10) for i in range(2)]
            syncer = _start_syncer(cluster.url, logs / "syncer.log")
            sender = WebhookSender(SECRET, base + "/webhooks", time_scale=TIME_SCALE, seed=3)
            sender.start()
            try:

                def feed() -> None:
                    start = time.monotonic()
                    for i in range(total):
                        time.sleep(max(0.0, start + i / RATE - time.monotonic()))
                        body = order_body(
                            300_000 + i, "5000", customer_id=80_000 + i % 97, updated_at=later(1)
                        )
                        sender.enqueue(SHOP, "orders/create", body)

                feeder = threading.Thread(target=feed)
                feeder.start()
                time.sleep(BEFORE)
                cluster.stop("immediate")
                down_at = time.monotonic()
                time.sleep(OUTAGE)
                cluster.start()
                outage = time.monotonic() - down_at
                syncer_log_at_restart = (logs / "syncer.log").stat().st_size
                feeder.join()
                deadline = time.monotonic() + 400
                while time.monotonic() < deadline:
                    outcomes = [d.outcome for d in sender.deliveries]
                    if len(outcomes) == total and all(o in ("delivered", "failed") for o in outcomes):
                        break
                    time.sleep(0.5)
                engine = create_engine(cluster.url)
                while time.monotonic() < deadline:
                    with engine.connect() as conn:
                        open_rows = conn.execute(
                            text(
                                "SELECT count(*) FROM inbox_events WHERE status IN ('pending', 'processing')"
                            )
                        ).scalar()
                    if open_rows == 0:
                        break
                    time.sleep(0.5)
                # The syncer came back by itself: a whole pass (shops, lease, task backoff, token look-up)
                # ends after the restart. The shop has no token here, so a pass ends in "no usable token".
                while time.monotonic() < deadline and "no usable token" not in _tail(
                    logs / "syncer.log", syncer_log_at_restart
                ):
                    time.sleep(0.5)
            finally:
                sender.stop()
                codes = stop_workers([*workers, syncer])

        with engine.connect() as conn:
            persisted = set(conn.execute(select(InboxEvent.delivery_id)).scalars())
            statuses = dict(
                conn.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
            )
            purchases = conn.execute(select(func.count()).select_from(Purchase)).scalar()
            earns = conn.execute(
                select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "earn")
            ).scalar()
        with Session(engine) as session:
            members = books_balance(session)
        engine.dispose()
    finally:
        cluster.stop("fast")

    attempts = [a for d in sender.deliveries for a in d.attempts]
    acknowledged = {d.webhook_id for d in sender.deliveries if any(a.status == 200 for a in d.attempts)}
    refused = [a for a in attempts if a.status != 200]
    print(
        f"\n{total} deliveries, outage {outage:.1f} s: {len(attempts)} attempts, {len(refused)} refused "
        f"({sorted({str(a.status or a.error) for a in refused})[:6]}); inbox {statuses}"
    )
    assert refused, "the outage was not felt: no delivery was refused"
    assert acknowledged - persisted == set(), "a 200 was given for a delivery that is not in the inbox"
    assert len(acknowledged) == total and {d.outcome for d in sender.deliveries} == {"delivered"}
    assert statuses == {"done": total}
    assert purchases == total and earns == total
    assert members > 0  # and every member's cached balance equals its ledger (books_balance)
    assert "no usable token" in _tail(logs / "syncer.log", syncer_log_at_restart), "the syncer did not resume"
    assert codes == [0, 0, 0]  # both workers and the syncer were still running, and stopped cleanly
