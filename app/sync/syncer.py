"""The syncer: one lease per shop, dirty members coalesced into metafieldsSet batches and tag changes.

A member is dirty when its `sync_version` is above the version Shopify confirmed, or when its time-dependent
values (rolling spend, dates) were last projected on an earlier shop-local day. Whatever happened to a member
since the last pass is one projection now: repeated changes coalesce by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session

from app.jobs import leases
from app.members.projection import Projection, project
from app.models.member import Member, MemberStatus
from app.models.shop import Shop
from app.models.sync_state import MemberSyncState
from app.models.types import utcnow
from app.shopify.pacing import MUTATION_COST, CostPacer
from app.shops.namespace import namespace_written
from app.shops.namespace import remember as remember_namespace
from app.sync import freshness
from app.sync.metafields import MemberChange, diff, pack, read_current, send_deletes, send_sets
from app.sync.tags import TagChange, push_tag_changes, tag_changes

log = logging.getLogger(__name__)

LEASE_NAME = "syncer"
LEASE_TTL = timedelta(seconds=60)
ROUND_SIZE = 200  # members projected per round (a few queries each round)
TAG_WAIT_PER_ROUND = 1.0  # seconds a round may wait for budget for tags when no metafields are waiting
TAG_HEADROOM_SECONDS = 1.0  # restore left untouched by tags after a round that wrote metafields


@dataclass
class SyncReport:
    """What one pass did (for logs, the CLI and tests)."""

    members: int = 0
    confirmed: int = 0
    metafields_written: int = 0
    metafields_deleted: int = 0
    set_calls: int = 0
    tag_calls: int = 0
    refused: dict[int, str] = field(default_factory=dict)
    stale: int = 0
    rounds: int = 0
    lease_lost: bool = False
    tags_deferred: int = 0  # members whose tag change waits for budget (their metafields are written)

    @property
    def progress(self) -> tuple[int, ...]:
        """Moves whenever a pass achieved something; a pass that leaves it unchanged only waited."""
        return (
            self.confirmed,
            self.metafields_written,
            self.metafields_deleted,
            self.tag_calls,
            self.stale,
            len(self.refused),
        )


def shop_today(shop: Shop, now: datetime) -> date:
    """The calendar day in the shop's time zone (time-dependent values are re-projected daily)."""
    return now.astimezone(ZoneInfo(shop.timezone)).date()


def dirty_members(session: Session, shop: Shop, today: date, limit: int) -> list[tuple[Member, Any]]:
    """Members whose Shopify values may be out of date, oldest unconfirmed change first."""
    state = MemberSyncState
    stmt = (
        select(Member, state)
        .outerjoin(state, state.member_id == Member.id)
        .where(
            Member.shop_id == shop.id,
            Member.status == MemberStatus.ACTIVE,
            Member.shopify_customer_id.is_not(None),
            or_(
                state.member_id.is_(None),
                and_(
                    Member.sync_version > state.confirmed_version,
                    or_(state.failed_version.is_(None), state.failed_version != Member.sync_version),
                ),
                state.projected_on.is_(None),
                state.projected_on < today,
            ),
        )
        .order_by(
            # Members with metafields to write first (a tag change waiting for budget must not hold up a
            # sale's metafields), then the oldest unconfirmed change.
            Member.sync_version <= func.coalesce(state.written_version, 0),
            state.pending_since.is_(None),
            state.pending_since,
            Member.updated_at,
            Member.id,
        )
        .limit(limit)
        .execution_options(populate_existing=True)  # the newest sync_version, not a copy from a past round
    )
    return [(m, s) for m, s in session.execute(stmt)]


def _ensure_states(session: Session, shop: Shop, members: list[Member]) -> dict[int, MemberSyncState]:
    """Sync state rows for the members (created race-free: the freshness hook may insert them too)."""
    table = MemberSyncState.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    blank = [
        {
            "member_id": m.id,
            "shop_id": shop.id,
            "confirmed_version": 0,
            "values": {},
            "digests": {},
            "tags": [],
        }
        for m in members
    ]
    session.execute(dialect.insert(table).on_conflict_do_nothing(), blank)
    ids = [m.id for m in members]
    rows = session.scalars(
        select(MemberSyncState)
        .where(MemberSyncState.member_id.in_(ids))
        .execution_options(populate_existing=True)
    )
    return {s.member_id: s for s in rows}


def sync_shop(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    *,
    holder: str | None = None,
    now: Callable[[], datetime] = utcnow,
    max_rounds: int | None = None,
) -> SyncReport:
    """Bring Shopify up to date for every dirty member of one shop (if this process holds its lease)."""
    holder = holder or leases.new_holder_id()
    report = SyncReport()
    if not leases.acquire(session, shop.id, LEASE_NAME, holder, LEASE_TTL, now()):
        report.lease_lost = True
        return report
    # Reloading each member and sync state after every commit cost more than the Shopify calls. The rows a
    # round works on are its own (lease), and every round starts from a query that refreshes what it reads.
    raw = session.registry() if isinstance(session, scoped_session) else session
    expire_on_commit, raw.expire_on_commit = raw.expire_on_commit, False
    renewed = now()
    try:
        while max_rounds is None or report.rounds < max_rounds:
            # Renewed once a third of its term has passed (a renewal is a commit; rounds are short).
            if now() - renewed >= LEASE_TTL / 3:
                if not leases.acquire(session, shop.id, LEASE_NAME, holder, LEASE_TTL, now()):
                    report.lease_lost = True
                    break
                renewed = now()
            rows = dirty_members(session, shop, shop_today(shop, now()), ROUND_SIZE)
            if not rows:
                break
            report.rounds += 1
            before = report.progress
            _sync_round(session, shop, client, pacer, [m for m, _ in rows], report, now)
            if report.progress == before:
                break  # only tag changes waiting for budget: the next pass tries again
    finally:
        session.rollback()  # expires everything this pass loaded, so nothing stale outlives it
        raw.expire_on_commit = expire_on_commit
        leases.release(session, shop.id, LEASE_NAME, holder)
    return report


def _sync_round(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    members: list[Member],
    report: SyncReport,
    now: Callable[[], datetime],
) -> None:
    """Project, diff, write and confirm one round: a commit before the writes, one after, one at the end."""
    started = now()
    states = _ensure_states(session, shop, members)
    projections = project(session, shop, members, started)
    report.members += len(projections)
    changes = _diff_round(members, states, projections)
    session.commit()

    blocked = _write_metafields(session, shop, client, pacer, changes, states, projections, report)
    # One commit for all the calls (a commit is a disk flush). Confirmations lost to a crash before it
    # are harmless: the next pass re-sends with the old digests, Shopify answers STALE_OBJECT where the
    # value moved, and the syncer re-reads before writing again.
    _delete_metafields(
        client, pacer, [c for c in changes if c.deletes and c.member_id not in blocked], states, report
    )
    # The metafields are in Shopify now: that is the freshness the merchant's tools see (a sale's
    # metafields within a second), so the clock stops here, before the slower tag calls.
    written_at = now()
    for change in changes:
        if change.member_id not in blocked:
            _metafields_visible(session, shop, states[change.member_id], change.projection, written_at)
    session.commit()

    # Tags are idempotent in Shopify, so one commit for the round is enough: a crash re-sends at worst.
    wrote = any(not c.empty for c in changes)
    unblocked = [c for c in changes if c.member_id not in blocked]
    planned, settled = _plan_tags(pacer, unblocked, states, wrote, report)
    calls, refused = push_tag_changes(client, pacer, planned)
    report.tag_calls += calls
    today = shop_today(shop, started)
    for change in settled:
        state = states[change.member_id]
        if change.member_id in refused:
            _refuse(state, change.projection, refused[change.member_id], report)
            continue
        state.tags = sorted(change.projection.tags)
        _confirm(session, shop, state, change.projection, today, now(), report)
    session.commit()


def _diff_round(
    members: list[Member], states: dict[int, MemberSyncState], projections: dict[int, Projection]
) -> list[MemberChange]:
    """Each projected member's change against what Shopify was last confirmed to hold."""
    changes: list[MemberChange] = []
    for member in members:
        state = states[member.id]
        p = projections.get(member.id)
        if p is None:
            continue
        if state.customer_gid != p.customer_gid:
            # A different Shopify customer (first sync, or relinked): nothing there is known to us.
            state.customer_gid, state.values, state.digests, state.tags = p.customer_gid, {}, {}, []
        change = diff(p, dict(state.values), dict(state.digests))
        if state.pending_since is None and member.sync_version > state.confirmed_version and not change.empty:
            # Not caused by a webhook we saw (or the hook was not used): measure from the change itself.
            # (A member whose metafields are written and whose tags wait for budget has nothing to measure.)
            state.pending_since = member.updated_at
        changes.append(change)
    return changes


def _write_metafields(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    changes: list[MemberChange],
    states: dict[int, MemberSyncState],
    projections: dict[int, Projection],
    report: SyncReport,
) -> set[int]:
    """metafieldsSet in batches; returns the members Shopify refused or found stale (skipped from here on)."""
    blocked: set[int] = set()
    for packed in pack(changes):
        batch = [(c, item) for c, item in packed if c.member_id not in blocked]
        if not batch:
            continue
        result = send_sets(client, pacer, batch)
        report.set_calls += result.calls
        for namespace in result.namespaces:  # `$app` as Shopify resolved it; committed with the round
            remember_namespace(shop, namespace_written(namespace))
        for member_id, confirmed in result.confirmed.items():
            state = states[member_id]
            state.values = {**state.values, **{k: v for k, (v, _) in confirmed.items() if v is not None}}
            state.digests = {**state.digests, **{k: d for k, (_, d) in confirmed.items() if d}}
            report.metafields_written += len(confirmed)
        for member_id, reason in result.refused.items():
            _refuse(states[member_id], projections[member_id], reason, report)
            blocked.add(member_id)
        for member_id in result.stale:
            # Someone wrote since our last confirmation: learn what Shopify holds, retry next round.
            gid = projections[member_id].customer_gid
            values, digests = read_current(client, pacer, gid, shop.app_namespace)
            # The re-read covers the app's namespace; what the mirror holds (`tsunagu.*`) stays known.
            values |= {k: v for k, v in states[member_id].values.items() if "." in k}
            states[member_id].values, states[member_id].digests = values, digests
            report.stale += 1
            blocked.add(member_id)
    return blocked


def _delete_metafields(
    client: Any,
    pacer: CostPacer,
    deletable: list[MemberChange],
    states: dict[int, MemberSyncState],
    report: SyncReport,
) -> None:
    """metafieldsDelete for values a member no longer has; the confirmed state forgets them."""
    if not deletable:
        return
    for member_id, keys in send_deletes(client, pacer, deletable).items():
        state = states[member_id]
        state.values = {k: v for k, v in state.values.items() if k not in keys}
        state.digests = {k: v for k, v in state.digests.items() if k not in keys}
        report.metafields_deleted += len(keys)


def _plan_tags(
    pacer: CostPacer,
    changes: list[MemberChange],
    states: dict[int, MemberSyncState],
    wrote: bool,
    report: SyncReport,
) -> tuple[list[TagChange], list[MemberChange]]:
    """The tag changes to send now, and the members whose tags are settled by them (or had none to change).

    A tag mutation costs 10 points, and on a Standard bucket a stream of new members' tags outspends the
    restore rate; waiting for budget here would hold up the next members' metafields. So after a round that
    wrote metafields, tags go out only as far as the bucket affords them at once, and the rest stay dirty for
    the next round; a round with only tags left waits for budget, a second at most, so fresh metafields
    never queue behind more than that. All of them travel in one request. `wrote`: the round had metafields.
    """
    # After metafields, leave a second's restore in the bucket: the next sale's metafields go first.
    headroom = pacer.restore_rate * TAG_HEADROOM_SECONDS if wrote else 0.0
    planned: list[TagChange] = []
    settled: list[MemberChange] = []
    cost = 0.0
    for change in changes:
        add, remove = tag_changes(change.projection.tags, states[change.member_id].tags or [])
        if add or remove:
            tag_change = TagChange(
                change.member_id, change.projection.customer_gid, tuple(add), tuple(remove)
            )
            delay = pacer.delay_for(cost + MUTATION_COST * tag_change.mutations + headroom)
            if delay > 0 and (wrote or delay > TAG_WAIT_PER_ROUND):
                report.tags_deferred += 1
                continue
            cost += MUTATION_COST * tag_change.mutations
            planned.append(tag_change)
        settled.append(change)
    return planned, settled


def _metafields_visible(
    session: Session, shop: Shop, state: MemberSyncState, p: Projection, at: datetime
) -> None:
    """The member's metafields are written: close the freshness sample a webhook opened, if any."""
    state.written_version = max(state.written_version or 0, p.version)
    if state.pending_since is not None:
        freshness.record(session, shop.id, state.pending_since, at)
        state.pending_since = None


def _confirm(
    session: Session,
    shop: Shop,
    state: MemberSyncState,
    p: Projection,
    today: date,
    confirmed_at: datetime,
    report: SyncReport,
) -> None:
    """Shopify now holds version `p.version`: record it, and the freshness sample if one was pending."""
    if p.version > state.confirmed_version:
        state.confirmed_version = p.version
    state.projected_on = today
    state.failed_version, state.last_error = None, None
    state.confirmed_at = confirmed_at
    report.confirmed += 1


def _refuse(state: MemberSyncState, p: Projection, reason: str, report: SyncReport) -> None:
    """Shopify refused this member's values: park this version (retried when the member changes again)."""
    log.warning("Shopify refused member %s: %s", p.member_id, reason)
    state.failed_version, state.last_error = p.version, reason[:1000]
    report.refused[p.member_id] = reason
