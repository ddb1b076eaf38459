"""Heartbeats of the worker and syncer processes, read back for /readyz, /metrics and a container healthcheck.

The processes write them (app.models.processes.beat) from their loops; the rows live in the database, so
any web process answers for every worker and syncer, wherever they run.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models.processes import ProcessHeartbeat
from app.models.types import utcnow

KINDS = ("worker", "syncer")  # the processes /readyz waits for


@dataclass(frozen=True)
class Heartbeat:
    """One process's row as read back."""

    kind: str
    holder: str
    started_at: datetime
    last_seen: datetime
    processed: int

    def age(self, now: datetime) -> float:
        return max(0.0, (now - self.last_seen).total_seconds())


def recent(session: Session) -> list[Heartbeat]:
    """Every process row kept (at most FORGET_AFTER old), newest first."""
    rows = session.execute(
        select(
            ProcessHeartbeat.kind,
            ProcessHeartbeat.holder,
            ProcessHeartbeat.started_at,
            ProcessHeartbeat.last_seen,
            ProcessHeartbeat.processed,
        ).order_by(ProcessHeartbeat.last_seen.desc())
    ).all()
    return [Heartbeat(*row) for row in rows]


def readiness(
    beats: list[Heartbeat], stale_after: float, now: datetime | None = None
) -> dict[str, dict[str, object]]:
    """Per kind: ok (a process beat within stale_after seconds), stale (only older beats) or missing."""
    now = now or utcnow()
    out: dict[str, dict[str, object]] = {}
    for kind in KINDS:
        mine = [b for b in beats if b.kind == kind]
        if not mine:
            out[kind] = {"state": "missing"}
            continue
        newest = max(mine, key=lambda b: b.last_seen)
        live = sum(1 for b in mine if b.age(now) <= stale_after)
        out[kind] = {
            "state": "ok" if live else "stale",
            "live": live,
            "last_seen": newest.last_seen.isoformat(),
            "age_seconds": round(newest.age(now), 1),
        }
    return out


def init_cli(app: Flask) -> None:
    """`flask heartbeat KIND [--here]`: a container healthcheck for the worker and syncer processes."""

    @app.cli.command("heartbeat")
    @click.argument("kind", type=click.Choice(KINDS))
    @click.option("--here", is_flag=True, help="Only processes on this host (holder ids name their host).")
    def heartbeat_command(kind: str, here: bool) -> None:
        """Exit 0 when a KIND process beat within HEARTBEAT_STALE_SECONDS, else 1."""
        stale_after = app.config["SETTINGS"].heartbeat_stale_seconds
        host = socket.gethostname()
        now = utcnow()
        beats = [b for b in recent(db.session) if b.kind == kind and b.age(now) <= stale_after]
        if here:
            # worker ids are host:pid:random, syncer ids syncer:host:pid:random, hosts cut to 32/24 chars
            beats = [b for b in beats if {host[:32], host[:24]} & set(b.holder.split(":")[:2])]
        if not beats:
            raise click.ClickException(f"no {kind} beat in the last {stale_after:g} s")
        click.echo(f"{kind}: {len(beats)} alive, newest {beats[0].age(now):.1f} s ago")
