"""Opening balances: a file from a previous point system (or a stack of paper cards) credited once.

All or nothing: the file is read and every row matched to exactly one member first (app/domain/opening.py
checks the rows); one problem anywhere and nothing is credited. A good file posts one `opening` transaction
per row, keyed `<import id>:<line>`, in the caller's transaction, and the import record (one per content
hash and shop) makes the same file apply at most once. Members are matched by member number, linked store
code, or keyed phone/email hashes, never by a stored phone or email.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain.identity import clean_member_number, decide_match, email_hash, phone_hash
from app.domain.opening import (
    IDENTIFIERS,
    OpeningFile,
    OpeningRow,
    Problem,
    as_of_instant,
    expiry_instant,
    read_opening_file,
)
from app.members.identity import hash_key
from app.models.member import ExternalLink, Member, MemberStatus
from app.models.shop import Shop
from app.models.shop_jobs import OpeningImport, OpeningImportStatus
from app.models.types import utcnow
from app.points import ledger
from app.points.history import schedule_rebuild

log = logging.getLogger(__name__)

SOURCE = "opening"
IN_CHUNK = 500  # values per IN (...) list


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What became of an upload: applied now, applied by an earlier upload of the same file, or rejected."""

    status: str  # applied | already_applied | rejected
    record: OpeningImport
    problems: tuple[Problem, ...] = ()
    queued: bool = False  # the members' rebuild runs in the worker (many members)


def import_opening_balances(
    session: Session, shop: Shop, filename: str, data: bytes, now: datetime | None = None
) -> ImportOutcome:
    """Check the file, then credit every row or none; the caller commits (a rejection is recorded too)."""
    now = now or utcnow()
    read = read_opening_file(
        data, region=shop_region(shop), today=now.astimezone(ZoneInfo(shop.timezone)).date()
    )
    record = session.scalar(
        select(OpeningImport).where(OpeningImport.shop_id == shop.id, OpeningImport.sha256 == read.sha256)
    )
    if record is not None and record.status == OpeningImportStatus.APPLIED:
        return ImportOutcome("already_applied", record)
    # Rows that read well are matched even when others did not, so one report names every problem.
    matched, unmatched = _match(session, shop, read)
    problems = sorted([*read.problems, *unmatched], key=lambda p: p.line or 0)
    if record is None:
        record = OpeningImport(shop_id=shop.id, sha256=read.sha256, created_at=now)
        _describe(record, filename, read, problems)
        try:
            with session.begin_nested():
                session.add(record)
        except IntegrityError:
            # The same file, uploaded twice at once: the other request recorded it; its word stands.
            record = session.scalars(
                select(OpeningImport).where(
                    OpeningImport.shop_id == shop.id, OpeningImport.sha256 == read.sha256
                )
            ).one()
            if record.status == OpeningImportStatus.APPLIED:
                return ImportOutcome("already_applied", record)
            return ImportOutcome("rejected", record, tuple(Problem.from_json(e) for e in record.errors))
    else:
        _describe(record, filename, read, problems)
    if problems:
        log.info("opening balances of shop %s rejected: %d problems", shop.id, len(problems))
        session.flush()
        return ImportOutcome("rejected", record, tuple(problems))
    record.status = OpeningImportStatus.APPLIED
    record.applied_at = now
    session.flush()
    queued = _apply(session, shop, record, matched, now)
    log.info("opening balances of shop %s applied: import %s, %d rows", shop.id, record.id, record.rows)
    return ImportOutcome("applied", record, queued=queued)


def _describe(record: OpeningImport, filename: str, read: OpeningFile, problems: Sequence[Problem]) -> None:
    """The record as of this upload: what the file holds and what is wrong with it (no value from it)."""
    record.filename = (filename or "opening.csv")[-255:]
    record.rows = read.lines
    record.points = 0 if problems else read.points  # a rejected file credits nothing
    record.status = OpeningImportStatus.REJECTED if problems else OpeningImportStatus.APPLIED
    record.errors = [p.to_json() for p in problems]


def _apply(
    session: Session, shop: Shop, record: OpeningImport, matched: list[tuple[OpeningRow, int]], now: datetime
) -> bool:
    """One `opening` transaction per row, then the members' rebuild; True when the rebuild was queued."""
    ids = sorted({member_id for _, member_id in matched})
    members: dict[int, Member] = {}
    for chunk in _chunks(ids):  # in id order, as every other locker does, so no two wait on each other
        stmt = select(Member).where(Member.id.in_(chunk)).order_by(Member.id).with_for_update()
        members.update((m.id, m) for m in session.scalars(stmt))
    for row, member_id in matched:
        member = members[member_id]
        ledger.post(
            session,
            shop.id,
            member,
            source=SOURCE,
            source_id=f"{record.id}:{row.line}",
            kind="opening",
            legs=[("issued", None, -row.points), ("available", member.id, row.points)],
            effective_at=as_of_instant(row.as_of, shop.timezone, now),
            reason=f"opening balance (import {record.id}, line {row.line})",
            expires_at=expiry_instant(row.expires_on, shop.timezone) if row.expires_on else None,
        )
    return schedule_rebuild(session, shop, "opening", ids, now)


def _match(
    session: Session, shop: Shop, read: OpeningFile
) -> tuple[list[tuple[OpeningRow, int]], list[Problem]]:
    """Each row's one member, or a problem naming the line: no member, several members, or a member that
    another row names already."""
    key = hash_key()
    phones = {row.phone: phone_hash(key, shop.id, row.phone) for row in read.rows if row.phone}
    emails = {row.email: email_hash(key, shop.id, row.email) for row in read.rows if row.email}
    numbers = {row.member_number for row in read.rows if row.member_number}
    by_number = _by_number(session, shop, numbers)
    by_phone = _by_column(session, shop, Member.phone_hash, [h for h in phones.values() if h])
    by_email = _by_column(session, shop, Member.email_hash, [h for h in emails.values() if h])
    matched: list[tuple[OpeningRow, int]] = []
    problems: list[Problem] = []
    first_line: dict[int, int] = {}
    for row in read.rows:
        decision = decide_match(
            by_number.get(row.member_number or "", []),
            by_phone.get(phones.get(row.phone or "") or "", []),
            by_email.get(emails.get(row.email or "") or "", []),
        )
        if decision.outcome == "none":
            problems.append(Problem("unknown_member", row.line))
        elif decision.outcome == "ambiguous" or decision.member_id is None:
            column = next((c for c in IDENTIFIERS if c == decision.by), None)
            problems.append(Problem("ambiguous_member", row.line, column))
        elif decision.member_id in first_line:
            problems.append(Problem("same_member", row.line, other_line=first_line[decision.member_id]))
        else:
            first_line[decision.member_id] = row.line
            matched.append((row, decision.member_id))
    return matched, problems


def _by_column(
    session: Session, shop: Shop, column: InstrumentedAttribute[str | None], values: list[str]
) -> dict[str, list[int]]:
    """Active members whose `column` holds one of `values`, by value."""
    found: dict[str, list[int]] = defaultdict(list)
    for chunk in _chunks(sorted(set(values))):
        stmt = select(Member.id, column).where(
            Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE, column.in_(chunk)
        )
        for member_id, value in session.execute(stmt):
            found[str(value)].append(member_id)
    return found


def _by_number(session: Session, shop: Shop, numbers: set[str]) -> dict[str, list[int]]:
    """Members by this app's member number (check digit right) or by a linked store or card code."""
    found: dict[str, list[int]] = defaultdict(list)
    own = {n: clean for n in numbers if (clean := clean_member_number(n))}
    for number, ids in _by_column(session, shop, Member.member_number, list(own.values())).items():
        for raw, clean in own.items():
            if clean == number:
                found[raw] += ids
    for chunk in _chunks(sorted(numbers)):
        stmt = (
            select(Member.id, ExternalLink.code)
            .join(ExternalLink, ExternalLink.member_id == Member.id)
            .where(
                Member.shop_id == shop.id,
                Member.status == MemberStatus.ACTIVE,
                ExternalLink.shop_id == shop.id,
                ExternalLink.code.in_(chunk),
            )
        )
        for member_id, code in session.execute(stmt):
            if member_id not in found[str(code)]:
                found[str(code)].append(member_id)
    return found


def _chunks(values: Sequence) -> Iterable[Sequence]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def recent_imports(session: Session, shop: Shop, limit: int = 10) -> list[OpeningImport]:
    """The shop's latest uploads, newest first."""
    stmt = (
        select(OpeningImport)
        .where(OpeningImport.shop_id == shop.id)
        .order_by(OpeningImport.created_at.desc(), OpeningImport.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def shop_region(shop: Shop) -> str:
    """The country whose notation local phone numbers in the file follow: the country of the shop's time
    zone (Shopify's shop record names no country the app reads), JP when the time zone names none."""
    return _zone_countries().get(shop.timezone or "", "JP")


@cache
def _zone_countries() -> dict[str, str]:
    """Time zone -> ISO country from the tz database's zone.tab (present wherever zoneinfo finds zones)."""
    for folder in TZPATH:
        path = Path(folder) / "zone.tab"
        if path.is_file():
            countries = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split("\t")
                if len(parts) >= 3 and not line.startswith("#"):
                    countries[parts[2]] = parts[0]
            return countries
    return {}
