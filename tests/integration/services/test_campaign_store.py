"""Campaign settings: validation, drafts versus started campaigns, whom a start replays, and the results.

NOW is 2026-11-20 12:00 in Tokyo; instants are built relative to it, never from the clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.campaigns import results, store
from app.campaigns.store import Amendment, CampaignInvalid, CampaignLocked, Settings
from app.domain.campaigns import KINDS
from app.i18n import catalogue
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import MemberStatus
from app.models.rewards import AwardStatus, CampaignAward, CampaignStatus
from app.models.shop import Shop, ShopLocation
from tests.integration.admin.factories import member, purchase

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
RANKS = ("regular", "silver", "gold")
STORES = ("shopify:1", "smaregi:2")


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def settings(**fields) -> Settings:
    base = {"name": "2x weekend", "kind": "multiplier", "starts_at": days(1), "multiplier": Decimal(2)}
    return Settings(**{**base, **fields})


def fixed(kind: str = "first_store_visit", **fields) -> Settings:
    return settings(**{"kind": kind, "multiplier": None, "bonus_points": 300, **fields})


def coded(code_kind: str | None = "free_shipping", value: int | None = None, valid: int | None = 7, **fields):
    """A fixed-bonus campaign that gives a discount code."""
    amount = None if value is None else Decimal(value)
    extra = {"reward": "code", "code_kind": code_kind, "code_value": amount, "code_valid_days": valid}
    return fixed(fields.pop("kind", "first_online_after_store"), **extra, **fields)


def check(s: Settings) -> dict[str, str]:
    return {name: key for name, (key, _) in store.problems(s, RANKS, STORES).items()}


@pytest.mark.parametrize(
    "s",
    [
        settings(channels=("online", "pos"), locations=STORES, ranks=("gold",), weekdays=(5, 6)),
        settings(multiplier=Decimal("10"), ends_at=days(3), budget=5000, holdout_pct=50),
        fixed(),
        coded(bonus_points=0, valid=30),
        fixed("birthday_month", bonus_expiry_days=30),
        coded("amount", 500, 14, kind="lapsing", lapse_days=90),
        coded("percentage", 100, 1, kind="lapsing", lapse_days=1),
    ],
)  # fmt: skip
def test_valid_settings_of_every_kind_pass(s):
    assert check(s) == {}


@pytest.mark.parametrize(
    "s, field, key",
    [
        (settings(kind="double"), "kind", "form.choice"),
        (settings(name="  "), "name", "form.required"),
        (settings(multiplier=Decimal(1)), "multiplier", "campaigns.error.multiplier"),
        (settings(multiplier=Decimal("10.5")), "multiplier", "campaigns.error.multiplier"),
        (settings(multiplier=Decimal("1.234")), "multiplier", "campaigns.error.multiplier"),
        (settings(multiplier=None), "multiplier", "campaigns.error.multiplier"),
        (coded(kind="multiplier", multiplier=Decimal(2)), "reward", "campaigns.error.multiplier_points"),
        (fixed(bonus_points=0), "bonus_points", "campaigns.error.bonus_points"),
        (fixed("lapsing"), "lapse_days", "campaigns.error.days"),
        (fixed("lapsing", lapse_days=0), "lapse_days", "campaigns.error.days"),
        (fixed("birthday_month", bonus_expiry_days=0), "bonus_expiry_days", "campaigns.error.days"),
        (settings(holdout_pct=51), "holdout_pct", "campaigns.error.holdout"),
        (settings(holdout_pct=-1), "holdout_pct", "campaigns.error.holdout"),
        (settings(ends_at=days(1)), "ends_at", "campaigns.error.ends_before_start"),
        (settings(budget=0), "budget", "campaigns.error.budget"),
        (coded(None), "code_kind", "form.choice"),
        (coded("amount", 0), "code_value", "campaigns.error.code_value"),
        (coded("amount"), "code_value", "campaigns.error.code_value"),
        (coded("percentage", 120), "code_value", "campaigns.error.percentage"),
        (coded(valid=None), "code_valid_days", "campaigns.error.days"),
        (fixed(reward="voucher"), "reward", "form.choice"),
        (settings(channels=("telephone",)), "channels", "form.choice"),
        (settings(ranks=("diamond",)), "ranks", "campaigns.error.unknown_rank"),
        (settings(locations=("shopify:99",)), "locations", "campaigns.error.unknown_location"),
        (settings(weekdays=(7,)), "weekdays", "form.choice"),
    ],
)  # fmt: skip
def test_each_invalid_field_is_named_with_its_reason(s, field, key):
    assert check(s)[field] == key


def test_every_problem_and_lock_reason_reads_in_both_languages():
    ja, en = catalogue("ja"), catalogue("en")
    bad = [
        settings(multiplier=None, holdout_pct=99, budget=0, ends_at=days(0), ranks=("x",), locations=("y",)),
        fixed("lapsing", bonus_points=0, bonus_expiry_days=0),
        coded("percentage", 200, None),
        settings(reward="code"),
    ]
    keys = {key for s in bad for key, _ in store.problems(s, RANKS, STORES).values()}
    keys |= {
        f"campaigns.error.{k}" for k in ("rules_locked", "stopped", "end_in_past", "not_draft", "not_active")
    }
    keys |= {f"campaigns.kind.{k}" for k in KINDS} | {f"campaigns.explain.{k}" for k in KINDS}
    keys |= {f"campaigns.award.{s}" for s in AwardStatus} | {f"campaigns.status.{s}" for s in CampaignStatus}
    assert len(keys) > 30
    assert sorted(k for k in keys if k not in ja or k not in en) == []


def test_a_draft_keeps_only_what_its_kind_and_reward_use(session, shop):
    s = fixed("birthday_month", channels=("online",), weekdays=(1,), lapse_days=30, bonus_expiry_days=60)
    row = store.create(session, shop, replace(s, multiplier=Decimal(3)), NOW)
    assert (row.status, row.kind, row.bonus_points, row.bonus_expiry_days) == (
        "draft",
        "birthday_month",
        300,
        60,
    )
    assert (row.multiplier, row.lapse_days, row.conditions, row.code_kind) == (None, None, {}, None)

    code = fixed("first_online_after_store", reward="code", code_kind="free_shipping", code_value=Decimal(5))
    row = store.create(session, shop, replace(code, code_valid_days=30, bonus_expiry_days=9), NOW)
    assert (row.bonus_points, row.code_kind, row.code_value, row.code_valid_days) == (
        0,
        "free_shipping",
        None,
        30,
    )
    assert row.bonus_expiry_days is None

    row = store.create(session, shop, settings(weekdays=(6, 5, 5), channels=("pos",)), NOW)
    assert row.conditions == {"channels": ["pos"], "locations": [], "ranks": [], "weekdays": [5, 6]}
    assert store.settings_of(row).weekdays == (5, 6)


def test_invalid_settings_are_refused_with_every_problem(session, shop):
    with pytest.raises(CampaignInvalid) as refused:
        store.create(session, shop, settings(multiplier=Decimal(1), holdout_pct=80, ranks=("diamond",)), NOW)
    assert set(refused.value.errors) == {"multiplier", "holdout_pct", "ranks"}


def test_known_locations_are_the_stores_purchases_name(session, shop):
    m = member(session, shop)
    purchase(session, shop, m, "1000", days(-3), "pos", location_key="shopify:1", location_name="渋谷店")
    purchase(
        session, shop, m, "1000", days(-2), "external_pos", location_key="smaregi:2", location_name="梅田店"
    )
    purchase(session, shop, m, "1000", days(-1), "online")
    purchase(session, shop, m, "1000", days(-1), "pos", location_key="shopify:5", location_name=None)
    session.add(ShopLocation(shop_id=shop.id, location_id="5", name="新宿店"))  # read by the syncer
    purchase(session, shop, m, "1000", days(-1), "pos", location_key="shopify:6", location_name=None)
    assert store.known_locations(session, shop) == [
        ("shopify:6", "shopify:6"),
        ("shopify:5", "新宿店"),
        ("smaregi:2", "梅田店"),
        ("shopify:1", "渋谷店"),
    ]
    row = store.create(session, shop, settings(locations=("smaregi:2",)), NOW)
    assert row.conditions["locations"] == ["smaregi:2"]


def test_a_started_campaign_keeps_its_rules_but_can_be_renamed_moved_and_rebudgeted(session, shop):
    row = store.create(session, shop, settings(), NOW)
    store.update(session, shop, row, settings(multiplier=Decimal(3), name="3x"), NOW)
    assert (row.multiplier, row.name) == (Decimal(3), "3x")
    store.start(session, shop, row, NOW)
    with pytest.raises(CampaignLocked) as locked:
        store.update(session, shop, row, settings(multiplier=Decimal(5)), NOW)
    assert locked.value.key == "campaigns.error.rules_locked"
    store.amend(session, shop, row, Amendment("3x weekend", days(10), 20_000), NOW)
    assert (row.name, row.ends_at, row.budget, row.multiplier) == ("3x weekend", days(10), 20_000, Decimal(3))
    with pytest.raises(CampaignInvalid) as past:
        store.amend(
            session, shop, row, Amendment("3x", NOW - timedelta(hours=1), None), NOW + timedelta(days=2)
        )
    assert past.value.errors["ends_at"][0] == "campaigns.error.end_in_past"
    store.stop(session, shop, row, days(2))
    with pytest.raises(CampaignLocked):
        store.amend(session, shop, row, Amendment("x", None, None), days(3))


def test_start_never_reaches_into_the_past_and_stop_ends_now(session, shop):
    late = store.create(session, shop, settings(starts_at=days(-5)), days(-6))
    store.start(session, shop, late, NOW)
    assert (late.status, late.starts_at, late.started_at) == (CampaignStatus.ACTIVE, NOW, NOW)
    ahead = store.create(session, shop, settings(starts_at=days(3)), NOW)
    store.start(session, shop, ahead, NOW)
    assert ahead.starts_at == days(3)
    with pytest.raises(CampaignLocked):
        store.start(session, shop, ahead, NOW)
    over = store.create(session, shop, settings(starts_at=days(-5), ends_at=days(-1)), days(-6))
    with pytest.raises(CampaignInvalid) as ended:
        store.start(session, shop, over, NOW)
    assert ended.value.errors["ends_at"][0] == "campaigns.error.already_ended"
    assert over.status == CampaignStatus.DRAFT
    draft = store.create(session, shop, settings(), NOW)
    with pytest.raises(CampaignLocked):
        store.stop(session, shop, draft, NOW)
    store.stop(session, shop, late, days(1))
    assert (late.status, late.stopped_at) == (CampaignStatus.STOPPED, days(1))


def test_members_to_revisit_per_kind(session, shop):
    other = Shop(domain="other-shop.myshopify.com", name="Other", currency="JPY", timezone="Asia/Tokyo")
    session.add(other)
    session.flush()
    early = member(session, shop, birth_month=4, last_earning_at=days(-200))
    purchase(session, shop, early, "1000", days(-200))
    after = member(session, shop, last_earning_at=days(1))
    purchase(session, shop, after, "1000", days(-200))
    purchase(session, shop, after, "1000", days(1))
    edge = member(session, shop, birth_month=11, last_earning_at=days(-30))
    purchase(session, shop, edge, "1000", days(-30), "pos")
    merged = member(session, shop, status=MemberStatus.MERGED, birth_month=1, last_earning_at=days(-300))
    purchase(session, shop, merged, "1000", days(2))
    stranger = member(session, other, birth_month=2, last_earning_at=days(-300))
    purchase(session, other, stranger, "1000", days(2))

    multiplier = store.create(session, shop, settings(starts_at=days(-30)), days(-31))
    assert store.members_to_revisit(session, shop, multiplier, days(3)) == [after.id, edge.id]
    assert store.members_to_revisit(session, shop, multiplier, days(0)) == [edge.id]  # not yet bought
    multiplier.ends_at = days(-1)
    assert store.members_to_revisit(session, shop, multiplier, days(3)) == [edge.id]
    first = store.create(session, shop, fixed(starts_at=days(-29)), days(-31))
    assert store.members_to_revisit(session, shop, first, days(3)) == [after.id]
    birthday = store.create(session, shop, fixed("birthday_month"), NOW)
    assert store.members_to_revisit(session, shop, birthday, NOW) == [early.id, edge.id]
    lapsing = store.create(session, shop, fixed("lapsing", lapse_days=60), NOW)
    assert store.members_to_revisit(session, shop, lapsing, NOW) == [early.id]
    lapsing.lapse_days = 20
    assert store.members_to_revisit(session, shop, lapsing, NOW) == [early.id, edge.id]


def _award(session, shop, campaign, who, occasion, status, points=0, **fields) -> None:
    session.add(
        CampaignAward(
            shop_id=shop.id, campaign_id=campaign.id, member_id=who.id, occasion=occasion,
            status=status, points=points, occurred_at=NOW, **fields,
        )
    )  # fmt: skip


def _entry(session, shop, who, source_id: str, kind: str, points: int, source: str = "campaign") -> None:
    tx = LedgerTransaction(
        shop_id=shop.id, member_id=who.id, source=source, source_id=source_id, kind=kind, effective_at=NOW
    )
    account = "pending" if points > 0 else "available"
    tx.postings = [
        LedgerPosting(shop_id=shop.id, member_id=who.id, account=account, points=points),
        LedgerPosting(shop_id=shop.id, member_id=None, account="issued", points=-points),
    ]  # fmt: skip
    session.add(tx)


def test_results_count_awards_members_points_and_codes(session, shop):
    a, b, c, d = (member(session, shop) for _ in range(4))
    double = store.create(session, shop, settings(budget=1000), NOW)
    double.granted = 250
    _award(session, shop, double, a, "shopify:1", AwardStatus.GRANTED, 100)
    _award(session, shop, double, a, "shopify:2", AwardStatus.GRANTED, 50)
    _award(session, shop, double, b, "shopify:3", AwardStatus.GRANTED, 100)
    _award(session, shop, double, c, "shopify:4", AwardStatus.HOLDOUT, 80)
    _award(session, shop, double, d, "shopify:5", AwardStatus.OVER_BUDGET, 40)
    _award(session, shop, double, d, "shopify:6", AwardStatus.WITHDRAWN, 30)
    _entry(session, shop, a, f"{double.id}:shopify:1", "bonus", 100)
    _entry(session, shop, a, f"{double.id}:shopify:2", "bonus", 50)
    _entry(session, shop, b, f"{double.id}:shopify:3", "bonus", 100)
    _entry(session, shop, b, f"{double.id}:shopify:3/shopify:77", "bonus_reversal", -40)
    _entry(session, shop, a, "shopify:1", "earn", 999, source="shopify")  # not the campaign's
    code = store.create(
        session, shop, fixed(reward="code", code_kind="free_shipping", code_valid_days=7), NOW
    )
    _award(session, shop, code, a, "first_store", AwardStatus.GRANTED, code="A1", code_status="active")
    _award(session, shop, code, b, "first_store", AwardStatus.GRANTED, code="B1", code_status="used")
    _award(session, shop, code, c, "first_store", AwardStatus.GRANTED, code_status="creating")
    _entry(session, shop, c, f"{double.id}0:x", "bonus", 7)  # campaign 10's entry is not campaign 1's
    idle = store.create(session, shop, fixed("birthday_month"), NOW)
    session.flush()

    shown = results.summaries(session, shop)
    assert set(shown) == {double.id, code.id}
    s = shown[double.id]
    assert s.awards == {"granted": 3, "holdout": 1, "over_budget": 1, "withdrawn": 1}
    assert (s.reached, s.holdout, s.points_granted, s.codes_issued) == (2, 1, 250, 0)
    assert (shown[code.id].reached, shown[code.id].codes_issued) == (3, 2)
    figures = results.results(session, shop, double)
    assert (figures.points_net, figures.budget_used) == (210, 0.25)
    assert results.results(session, shop, code).points_net == 0
    assert results.results(session, shop, idle) == results.Results(results.Summary(), 0, None)
