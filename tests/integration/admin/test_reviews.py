"""The identity review queue and paper-card migration: staff decide with a reason, once, in both languages."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.domain.identity import email_hash, phone_hash
from app.i18n import catalogue
from app.members.identity import hash_key
from app.models import Shop
from app.models.integrations import CardLinkAttempt
from app.models.ledger import LedgerTransaction
from app.models.member import ExternalLink, IdentityReview, Member, MemberStatus, ReviewStatus
from app.models.types import utcnow
from app.points import spending
from tests.integration.admin.factories import member, purchase

PHONE = "090-1234-5678"


def _funded(session, shop, points: int, **fields) -> Member:
    """A member whose balance comes from a real ledger entry (so a merge's replay carries it)."""
    phone = fields.pop("phone", None)
    row = member(session, shop, **fields)
    row.phone_hash = phone_hash(hash_key(), shop.id, phone) if phone else None
    session.flush()
    if points:
        spending.adjust(session, row, points, reason="seed", source_id=f"seed:{row.id}", now=utcnow())
    session.flush()
    return row


def _review(session, shop, store_points=300, a_points=1000, b_points=50):
    store = _funded(session, shop, store_points, phone=PHONE, shopify_customer_id=None)
    a = _funded(session, shop, a_points, phone=PHONE)
    b = _funded(session, shop, b_points, phone=PHONE)
    review = IdentityReview(
        shop_id=shop.id,
        source="smaregi",
        code="S-1",
        member_id=store.id,
        matched_by="phone",
        candidate_ids=[a.id, b.id],
        status=ReviewStatus.OPEN,
        created_at=utcnow() - timedelta(days=2),
    )
    session.add(review)
    session.flush()
    return review, store, a, b


def test_queue_lists_store_member_beside_both_candidates(admin, installed, session):
    review, store, a, b = _review(session, installed)
    purchase(session, installed, store, "3000", utcnow() - timedelta(days=5), "external_pos")
    newer = IdentityReview(
        shop_id=installed.id, source="card", member_id=a.id, matched_by="email", candidate_ids=[b.id]
    )
    session.add(newer)
    session.flush()
    html = admin.html("/members/reviews", "en")
    assert html.index(f'data-review="{review.id}"') < html.index(f'data-review="{newer.id}"')  # oldest first
    block = html[html.index(f'data-review="{review.id}"') : html.index(f'data-review="{newer.id}"')]
    for who in (store, a, b):
        assert f'data-member-id="{who.id}"' in block and who.member_number in block
    assert block.count('data-same="phone"') == 2 and "Same phone" in block
    assert "1,000 pt" in block and "Store only" in block
    assert PHONE not in html and "5678" not in html  # contact details are never shown
    ja = admin.html("/members/reviews", "ja")
    assert "電話番号が同じ" in ja and "店舗会員" in ja and "選んだ会員に統合" in ja
    members_page = admin.html("/members", "en")
    assert "/members/reviews" in members_page and "2 identity reviews waiting" in members_page


def test_merge_with_reason_combines_balances_and_records_who(admin, installed, session, caplog):
    review, store, a, b = _review(session, installed)
    missing = admin.post(f"/members/reviews/{review.id}", {"decision": "merge", "member_id": str(a.id)})
    assert missing.status_code == 422
    assert missing.get_json()["errors"] == {"reason": catalogue("en")["form.required"]}
    not_candidate = admin.post(
        f"/members/reviews/{review.id}", {"decision": "merge", "member_id": str(store.id), "reason": "x"}
    )
    assert not_candidate.status_code == 422 and "member_id" in not_candidate.get_json()["errors"]

    with caplog.at_level(logging.INFO, logger="app.customers.reviews"):
        ok = admin.post(
            f"/members/reviews/{review.id}",
            {"decision": "merge", "member_id": str(a.id), "reason": "レジで本人確認"},
            "ja",
        )
    assert ok.status_code == 200 and ok.get_json()["message"] == catalogue("ja")["reviews.done.merged"]
    session.expire_all()
    review = session.get(IdentityReview, review.id)
    assert review.status == ReviewStatus.LINKED and review.resolved_member_id == a.id
    assert session.get(Member, a.id).points_available == 1300  # 1,000 + the store member's 300
    assert session.get(Member, store.id).status == MemberStatus.MERGED
    assert session.get(Member, b.id).points_available == 50
    [entry] = review.details["audit"]
    assert entry["decision"] == "merge" and entry["reason"] == "レジで本人確認"
    assert entry["by"].startswith("staff:") and entry["by"] != "staff:?"
    assert entry["store_member_id"] == store.id and entry["survivor_id"] == a.id and entry["at"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"identity review {review.id} merged" in logged and "レジ" not in logged

    again = admin.post(
        f"/members/reviews/{review.id}", {"decision": "merge", "member_id": str(a.id), "reason": "again"}
    )
    assert again.status_code == 409
    assert again.get_json()["message"] == catalogue("en")["reviews.already_resolved"]
    session.expire_all()
    assert len(session.get(IdentityReview, review.id).details["audit"]) == 1
    assert session.get(Member, a.id).points_available == 1300


def test_keep_apart_dismisses_with_an_audit_entry(admin, installed, session):
    review, store, _a, _b = _review(session, installed)
    bad = admin.post(f"/members/reviews/{review.id}", {"decision": "keep_apart", "reason": "  "})
    assert bad.status_code == 422 and "reason" in bad.get_json()["errors"]
    ok = admin.post(f"/members/reviews/{review.id}", {"decision": "keep_apart", "reason": "family members"})
    assert ok.status_code == 200
    session.expire_all()
    review = session.get(IdentityReview, review.id)
    assert review.status == ReviewStatus.DISMISSED and review.resolved_at is not None
    assert review.details["audit"][0]["decision"] == "keep_apart"
    assert review.details["audit"][0]["reason"] == "family members"
    assert session.get(Member, store.id).status == MemberStatus.ACTIVE
    assert session.get(Member, store.id).points_available == 300
    assert "reviews.none" not in admin.html("/members/reviews") and "No identity reviews" in admin.html(
        "/members/reviews"
    )


def test_another_shops_review_is_not_found(admin, installed, session):
    other = Shop(domain="other-shop.myshopify.com", name="Other")
    session.add(other)
    session.flush()
    review, *_ = _review(session, other)
    response = admin.post(f"/members/reviews/{review.id}", {"decision": "keep_apart", "reason": "x"})
    assert response.status_code == 404
    assert admin.post("/members/reviews/999999", {"decision": "keep_apart", "reason": "x"}).status_code == 404
    session.expire_all()
    assert session.get(IdentityReview, review.id).status == ReviewStatus.OPEN
    assert f'data-review="{review.id}"' not in admin.html("/members/reviews")


def test_queue_pages_through_many_reviews(admin, installed, session):
    a = member(session, installed)
    for n in range(12):
        store = member(session, installed, shopify_customer_id=None)
        session.add(
            IdentityReview(
                shop_id=installed.id,
                source="card",
                member_id=store.id,
                matched_by="phone",
                candidate_ids=[a.id],
                created_at=utcnow() - timedelta(hours=12 - n),
            )
        )
    session.flush()
    first, second = admin.html("/members/reviews"), admin.html("/members/reviews", page="2")
    assert first.count("data-review=") == 10 and second.count("data-review=") == 2
    assert "Page 2 of 2" in second and 'rel="prev"' in second


def _paper_card(session, shop, points=800, phone=PHONE, email=None):
    card_member = _funded(session, shop, points, phone=phone, shopify_customer_id=None)
    if email:
        card_member.email_hash = email_hash(hash_key(), shop.id, email)
    session.add(ExternalLink(shop_id=shop.id, member_id=card_member.id, source="card", code="PC-0042"))
    session.flush()
    return card_member


def test_card_migration_with_the_right_phone_moves_points_once(admin, installed, session, caplog):
    card_member = _paper_card(session, installed)
    customer = _funded(session, installed, 100)
    form = {"card": "ＰＣ－００４２", "member": customer.member_number, "factor": "09012345678"}
    with caplog.at_level(logging.INFO, logger="app.customers.card_migration"):
        ok = admin.post("/members/cards", form)
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["message"] == catalogue("en")["cards.done.migrated"].format(
        number=customer.member_number
    )
    session.expire_all()
    assert session.get(Member, customer.id).points_available == 900
    assert session.get(Member, card_member.id).status == MemberStatus.MERGED
    link = session.scalar(select(ExternalLink).where(ExternalLink.code == "PC-0042"))
    assert link.member_id == customer.id and link.linked_by == "staff"
    assert "09012345678" not in caplog.text and "PC-0042" not in caplog.text

    again = admin.post("/members/cards", form, "ja")
    assert again.status_code == 200
    assert again.get_json()["message"] == catalogue("ja")["cards.done.already"].format(
        number=customer.member_number
    )
    session.expire_all()
    assert session.get(Member, customer.id).points_available == 900
    merges = session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.source_id == f"card-migration:{link.id}")
    ).all()
    assert len(merges) == 1


def test_card_migration_accepts_the_registered_email(admin, installed, session):
    _paper_card(session, installed, phone=None, email="hanako@example.jp")
    customer = _funded(session, installed, 0)
    form = {"card": "PC-0042", "member": customer.member_number, "factor": " Hanako@Example.JP "}
    assert admin.post("/members/cards", form).status_code == 200
    session.expire_all()
    assert session.get(Member, customer.id).points_available == 800


def test_wrong_second_factor_is_refused_then_the_card_locks(admin, installed, session, caplog):
    card_member = _paper_card(session, installed)
    customer = _funded(session, installed, 0)
    form = {"card": "PC-0042", "member": customer.member_number, "factor": "080-0000-0000"}
    with caplog.at_level(logging.INFO, logger="app.customers.card_migration"):
        wrong = admin.post("/members/cards", form)
    assert wrong.status_code == 422
    assert wrong.get_json()["errors"]["factor"] == catalogue("en")["cards.mismatch"].format(left="4")
    assert "080" not in caplog.text
    for _ in range(4):
        assert admin.post("/members/cards", form, "ja").status_code == 422
    locked = admin.post("/members/cards", {**form, "factor": PHONE}, "ja")
    assert locked.status_code == 429
    assert locked.get_json()["message"] == catalogue("ja")["cards.limited"].format(minutes="15")
    session.expire_all()
    assert session.get(Member, card_member.id).status == MemberStatus.ACTIVE
    assert session.get(Member, customer.id).points_available == 0
    # The window passes: the right factor works again.
    for attempt in session.scalars(select(CardLinkAttempt)):
        attempt.attempted_at = utcnow() - timedelta(minutes=16)
    session.commit()
    assert admin.post("/members/cards", {**form, "factor": PHONE}).status_code == 200


def test_card_migration_refuses_unknown_cards_members_and_blank_fields(admin, installed, session):
    _paper_card(session, installed)
    customer = member(session, installed)
    en = catalogue("en")
    blank = admin.post("/members/cards", {"card": "", "member": "", "factor": ""})
    assert blank.status_code == 422 and set(blank.get_json()["errors"]) == {"card", "member", "factor"}
    unknown = admin.post(
        "/members/cards", {"card": "NOPE", "member": customer.member_number, "factor": PHONE}
    )
    assert unknown.get_json()["errors"]["card"] == en["cards.unknown_card"]
    nobody = admin.post("/members/cards", {"card": "PC-0042", "member": "12345678901", "factor": PHONE})
    assert nobody.get_json()["errors"]["member"] == en["cards.unknown_member"]
    assert session.scalar(select(CardLinkAttempt.id)) is None  # typos are not counted as guesses


def test_card_page_renders_in_both_languages(admin, installed):
    en = admin.html("/members/cards", "en")
    assert 'name="card"' in en and "autofocus" in en and "Paper-card migration" in en
    ja = admin.html("/members/cards", "ja", member="123")
    assert "紙カードの移行" in ja and 'value="123"' in ja


ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "reviews"
ORIGIN = "http://tsunagu.test"


def _open(browser, html: str, path: str):
    """A page with the rendered HTML and the app's static files, nothing from the network."""
    static = Path(__file__).resolve().parents[3] / "static"

    def serve(route):
        wanted = urlsplit(route.request.url).path
        if wanted.startswith("/static/") and (static / wanted.removeprefix("/static/")).is_file():
            return route.fulfill(path=str(static / wanted.removeprefix("/static/")))
        if wanted == path:
            return route.fulfill(body=html, content_type="text/html; charset=utf-8")
        return route.abort()

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.route("**/*", serve)
    page.goto(f"{ORIGIN}{path}")
    return page


@pytest.mark.e2e
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_review_and_card_pages_in_chromium(admin, installed, session, browser, locale):
    review, store, a, _b = _review(session, installed)
    purchase(session, installed, store, "3000", utcnow() - timedelta(days=5), "external_pos")
    purchase(session, installed, a, "8000", utcnow() - timedelta(days=1), "online")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, admin.html("/members/reviews", locale), "/members/reviews")
    try:
        sides = page.locator(f'[data-review="{review.id}"] .ts-review-side')
        assert sides.count() == 3
        tops = {round(sides.nth(i).bounding_box()["y"]) for i in range(3)}
        assert len(tops) == 1  # side by side, not stacked
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(ARTIFACTS / f"reviews-{locale}.png"), full_page=True)
    finally:
        page.close()
    page = _open(browser, admin.html("/members/cards", locale, member="000000000011"), "/members/cards")
    try:
        assert page.evaluate("document.activeElement.id") == "card"  # ready for the scanner
        page.keyboard.type("PC-0042")
        page.keyboard.press("Enter")  # what a scanner sends after the code: move on, do not submit
        assert page.evaluate("document.activeElement.id") == "factor"
        page.screenshot(path=str(ARTIFACTS / f"cards-{locale}.png"), full_page=True)
    finally:
        page.close()
