"""Opening balances through the service: all or nothing, once per file, lots expiring when the file says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from app.domain.identity import damm_check_digit
from app.domain.opening import expiry_instant
from app.members.identity import remember_contact
from app.models import LedgerTransaction, Member, PointLot
from app.models.member import ExternalLink
from app.models.shop_jobs import MemberRebuild, OpeningImport
from app.points import history
from app.points.engine import rebuild_members
from app.points.opening import import_opening_balances, shop_region

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def number(n: int) -> str:
    body = f"{n:011d}"
    return body + damm_check_digit(body)


def member(session, shop, n: int, *, phone: str | None = None, email: str | None = None) -> Member:
    row = Member(shop_id=shop.id, shopify_customer_id=str(7000 + n), member_number=number(n))
    session.add(row)
    session.flush()
    remember_contact(shop, row, email, phone)
    session.flush()
    return row


def upload(session, shop, text: str, *, now: datetime = NOW, encoding: str = "utf-8", name: str = "old.csv"):
    return import_opening_balances(session, shop, name, text.encode(encoding), now=now)


def opening_rows(session) -> list[LedgerTransaction]:
    stmt = select(LedgerTransaction).where(LedgerTransaction.kind == "opening").order_by(LedgerTransaction.id)
    return list(session.scalars(stmt))


def test_a_good_file_credits_every_member_with_its_expiry(session, shop):
    a = member(session, shop, 1)
    b = member(session, shop, 2, phone="090-1234-5678")
    c = member(session, shop, 3, email="hanako@example.jp")
    text = (
        "会員番号,電話番号,メールアドレス,ポイント残高,有効期限,基準日\n"
        f"{a.member_number},,,1200,2027/3/31,2026/11/30\n"
        ",+81 90 1234 5678,,500,,\n"
        ",,Hanako@Example.JP,80,2027-01-15,\n"
    )
    outcome = upload(session, shop, text)
    assert outcome.status == "applied" and not outcome.queued
    record = outcome.record
    assert (record.rows, record.points, record.status, record.errors) == (3, 1780, "applied", [])
    for who, points in ((a, 1200), (b, 500), (c, 80)):
        session.refresh(who)
        assert who.points_available == points
    txns = {t.source_id: t for t in opening_rows(session)}
    assert set(txns) == {f"{record.id}:2", f"{record.id}:3", f"{record.id}:4"}
    first = txns[f"{record.id}:2"]
    assert first.member_id == a.id and first.source == "opening"
    assert first.expires_at == expiry_instant(date(2027, 3, 31), "Asia/Tokyo")
    assert first.effective_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # the end of the as-of day
    assert txns[f"{record.id}:3"].expires_at is None and txns[f"{record.id}:3"].effective_at == NOW
    lot = session.scalar(select(PointLot).where(PointLot.member_id == a.id))
    assert lot.remaining == 1200 and lot.expires_at == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)


def test_opening_points_expire_at_the_files_expiry(session, shop):
    a = member(session, shop, 4)
    upload(session, shop, f"会員番号,ポイント残高,有効期限\n{a.member_number},300,2026/12/31\n")
    expires = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    rebuild_members(session, shop, [a.id], expires - timedelta(seconds=1))
    session.refresh(a)
    assert a.points_available == 300
    rebuild_members(session, shop, [a.id], expires + timedelta(days=1))
    session.refresh(a)
    assert a.points_available == 0
    expired = session.scalar(
        select(LedgerTransaction).where(
            LedgerTransaction.member_id == a.id, LedgerTransaction.kind == "expire"
        )
    )
    assert expired is not None and expired.effective_at == expires


def test_one_bad_row_applies_nothing_and_names_its_line(session, shop):
    a = member(session, shop, 5)
    b = member(session, shop, 6)
    text = f"会員番号,ポイント残高\n{a.member_number},100\n{b.member_number},abc\n{number(99)},5\n"
    outcome = upload(session, shop, text)
    assert outcome.status == "rejected"
    assert [(p.line, p.code) for p in outcome.problems] == [(3, "balance_not_number"), (4, "unknown_member")]
    assert opening_rows(session) == []
    session.refresh(a)
    assert a.points_available == 0
    assert outcome.record.status == "rejected" and outcome.record.errors[0]["line"] == 3


def test_the_same_file_applies_once(session, shop):
    a = member(session, shop, 7)
    text = f"会員番号,ポイント残高\n{a.member_number},250\n"
    first = upload(session, shop, text)
    again = upload(session, shop, text, now=NOW + timedelta(hours=1), name="copy.csv")
    assert (first.status, again.status) == ("applied", "already_applied")
    assert again.record.id == first.record.id
    assert len(opening_rows(session)) == 1
    session.refresh(a)
    assert a.points_available == 250
    assert session.scalar(select(func.count()).select_from(OpeningImport)) == 1


def test_a_rejected_file_can_be_fixed_and_applied(session, shop):
    a = member(session, shop, 8)
    bad = upload(session, shop, f"会員番号,ポイント残高\n{a.member_number},0\n")
    good = upload(session, shop, f"会員番号,ポイント残高\n{a.member_number},10\n")
    assert (bad.status, good.status) == ("rejected", "applied")
    assert good.record.id != bad.record.id
    session.refresh(a)
    assert a.points_available == 10


def test_matching_problems_unknown_ambiguous_and_the_same_member_twice(session, shop):
    a = member(session, shop, 9, phone="03-1111-2222", email="a@example.jp")
    member(session, shop, 10, phone="03-3333-4444")
    member(session, shop, 11, phone="03-3333-4444")  # a family phone: two members
    text = (
        "会員番号,電話番号,メール,ポイント\n"
        ",03-1111-2222,,5\n"
        ",,a@example.jp,6\n"
        ",03-3333-4444,,7\n"
        ",03-9999-9999,,8\n"
    )
    outcome = upload(session, shop, text)
    assert [(p.line, p.code, p.column, p.other_line) for p in outcome.problems] == [
        (3, "same_member", None, 2),
        (4, "ambiguous_member", "phone", None),
        (5, "unknown_member", None, None),
    ]
    session.refresh(a)
    assert a.points_available == 0


def test_a_linked_store_code_names_its_member(session, shop):
    a = member(session, shop, 12)
    session.add(ExternalLink(shop_id=shop.id, member_id=a.id, source="smaregi", code="S-0042"))
    session.flush()
    outcome = upload(session, shop, "顧客コード,ポイント\nS0042,40\n")
    assert outcome.status == "rejected"  # hyphens are dropped from codes: S0042 is not S-0042
    session.add(ExternalLink(shop_id=shop.id, member_id=a.id, source="card", code="C77"))
    session.flush()
    assert upload(session, shop, "カード番号,ポイント\nC77,40\n").status == "applied"
    session.refresh(a)
    assert a.points_available == 40


def test_shift_jis_file_applies(session, shop):
    a = member(session, shop, 13, phone="090-2222-3333")
    outcome = upload(session, shop, "電話番号,ポイント残高\r\n090-2222-3333,70\r\n", encoding="cp932")
    assert outcome.status == "applied"
    session.refresh(a)
    assert a.points_available == 70


def test_many_members_are_rebuilt_by_the_worker(session, shop, monkeypatch):
    monkeypatch.setattr(history, "INLINE_MEMBERS", 1)
    a, b = member(session, shop, 14), member(session, shop, 15)
    outcome = upload(session, shop, f"会員番号,ポイント\n{a.member_number},1\n{b.member_number},2\n")
    assert outcome.status == "applied" and outcome.queued
    job = session.scalar(select(MemberRebuild))
    assert (job.reason, sorted(job.member_ids), job.status) == ("opening", sorted([a.id, b.id]), "pending")
    assert history.run_rebuilds(now=NOW) == 2
    session.refresh(job)
    assert (job.status, job.done) == ("done", 2)
    assert session.scalar(select(func.count()).select_from(PointLot).where(PointLot.member_id == b.id)) == 1


def test_the_shop_region_follows_its_time_zone(shop):
    assert shop_region(shop) == "JP"
    shop.timezone = "America/New_York"
    assert shop_region(shop) == "US"
    shop.timezone = "Etc/UTC"
    assert shop_region(shop) == "JP"


def test_a_failing_rebuild_is_retried_then_marked_failed(session, shop, monkeypatch):
    a = member(session, shop, 16)
    session.add(MemberRebuild(shop_id=shop.id, reason="earn_since", member_ids=[a.id], created_at=NOW))
    session.commit()  # queued by an earlier request: the failed batch's rollback must not take it away

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(history, "rebuild_members", broken)
    for attempt in range(1, history.MAX_ATTEMPTS + 1):
        assert history.run_rebuilds(now=NOW) == 0
        job = session.scalar(select(MemberRebuild))
        assert job.attempts == attempt and job.error == "RuntimeError"  # the type only, never a message
    assert job.status == "failed" and job.done == 0
    assert history.open_rebuilds(session, shop) == []
