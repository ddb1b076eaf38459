"""The history engine: replay members' histories in event time and store the result by difference.

One engine, every caller: a webhook or a register sale (one member), the install backfill and reconciliation
(thousands of members per call), daily upkeep (the members whose next maturity, expiry or rank change is
due) and a merge. Each call reads the members' purchases, refunds and point movements set-based (a few
statements per chunk of members, never one per purchase), replays each member in memory
(app/domain/replay.py) and writes only what differs (app/points/ledger_diff.py). The caller owns the
transaction; members are locked in id order so two callers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.campaigns import CampaignRule, Found, occasions
from app.domain.history import PurchaseFact
from app.domain.ranks import held_now, next_rank_instant
from app.domain.replay import Outcome, earning_terms, replay
from app.domain.settings import ShopRules
from app.members.records import rank_floor, touch
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase
from app.models.shop import Shop
from app.models.types import utcnow
from app.points import campaigns, ledger_diff
from app.points.histories import History, load_histories
from app.shops.rules import load_rules, rules_version

CHUNK = 400  # members per round of statements: bounded memory, few round trips


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def rebuild_members(
    session: Session,
    shop: Shop,
    member_ids: Iterable[int],
    now: datetime | None = None,
    *,
    rules: ShopRules | None = None,
) -> set[int]:
    """Replay the members' histories up to `now` and store the result; returns the ids that changed.

    Active members get their ledger, lots, balances, rank and purchases' earning terms; a merged member
    (its history moved to the survivor) is emptied; redacted and deleted members are left as they are.
    """
    now = now or utcnow()
    rules = rules or load_rules(shop)
    offers = campaigns.started_rules(session, shop.id)
    changed: set[int] = set()
    for chunk in _chunks(sorted(set(member_ids)), CHUNK):
        changed |= _rebuild_chunk(session, shop, rules, offers, list(chunk), now)
    return changed


def _rebuild_chunk(
    session: Session, shop: Shop, rules: ShopRules, offers: list[CampaignRule], ids: list[int], now: datetime
) -> set[int]:
    members = list(
        session.scalars(
            select(Member)
            .where(Member.id.in_(ids))
            .order_by(Member.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    histories = load_histories(session, ids)
    diff = ledger_diff.Diff(session, shop.id, ledger_diff.load_stored(session, ids))
    version = rules_version(shop)
    awards = campaigns.Awards(session, shop.id, offers, ids) if offers else None
    changed: set[int] = set()
    purchase_updates: list[dict[str, object]] = []
    for member in members:
        if member.status not in (MemberStatus.ACTIVE, MemberStatus.MERGED):
            continue
        history = histories.get(member.id) or History([], {}, {}, [])
        if member.status == MemberStatus.MERGED:
            history = History([], {}, {}, [])
        floor = rank_floor(member)
        frozen = _frozen_terms(history, version)
        facts = [p.fact() for p in history.purchases]
        terms = earning_terms(history.purchases, rules, shop.timezone, floor, frozen, facts)
        found = Found()
        if awards is not None and member.status == MemberStatus.ACTIVE:
            sales = campaigns.sales_of(history.purchases, terms)
            found = occasions(offers, sales, now, shop.timezone, member.birth_month)
        bonuses = awards.bonuses(member.id, found, now) if awards is not None else []
        outcome = replay(
            history.purchases,
            history.movements,
            rules,
            now,
            shop.timezone,
            floor,
            frozen,
            terms=terms,
            bonuses=bonuses,
        )
        moved = diff.member(member.id, outcome, history.purchase_ids)
        purchase_updates += _purchase_updates(history, outcome, frozen, version, now)
        if _update_member(member, facts, outcome, rules, shop.timezone, now, found.next_at) or moved:
            touch(member, now)
            changed.add(member.id)
    session.flush()  # the members' own changes first, then the set-based writes
    diff.write()
    if awards is not None:
        awards.write()
    if purchase_updates:
        session.execute(update(Purchase), purchase_updates)
    return changed


def _frozen_terms(history: History, version: int) -> dict[str, tuple[str, Decimal]]:
    """Purchases whose terms were worked out under earlier rules keep the rank terms they earned with."""
    return {
        key: (rank, multiplier)
        for key, (rank, multiplier, _points, worked_under) in history.terms.items()
        if rank is not None and worked_under < version
    }


def _purchase_updates(
    history: History, outcome: Outcome, frozen: dict[str, tuple[str, Decimal]], version: int, now: datetime
) -> list[dict[str, object]]:
    """Purchases whose earning terms changed (the rank before them, their multiplier, their points)."""
    updates = []
    for key, terms in outcome.terms.items():
        worked_under = history.terms[key][3] if key in frozen else version
        if history.terms.get(key) != (terms.rank, terms.multiplier, terms.points, worked_under):
            updates.append(
                {
                    "id": history.purchase_ids[key],
                    "earn_rank": terms.rank,
                    "earn_multiplier": terms.multiplier,
                    "points": terms.points,
                    "rules_version": worked_under,
                    "updated_at": now,
                }
            )
    return updates


def _update_member(
    member: Member,
    facts: list[PurchaseFact],
    outcome: Outcome,
    rules: ShopRules,
    tz: str,
    now: datetime,
    next_occasion: datetime | None = None,
) -> bool:
    """Balances, flag, rank and next due instant onto the member row; True if anything a reader sees moved."""
    floor = rank_floor(member)
    values = {
        "points_pending": outcome.balances["pending"],
        "points_available": outcome.balances["available"],
        "points_held": outcome.balances["held"],
        "points_debt": outcome.debt,
        "points_flag": outcome.flag,
        "last_earning_at": outcome.last_earning_at,
        "rank": held_now(facts, rules.ranks, rules.points.rate, now, tz, floor).handle,
    }
    seen = any(getattr(member, name) != value for name, value in values.items())
    for name, value in values.items():
        setattr(member, name, value)
    member.rank_evaluated_at = now
    upcoming = [outcome.next_due_at, next_rank_instant(facts, rules.ranks, now, tz, floor), next_occasion]
    member.next_due_at = min((t for t in upcoming if t is not None), default=None)
    return seen
