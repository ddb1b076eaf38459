"""The member's birth month from Shopify: the birthday metafield's month is kept, nothing else of the date.

Customer webhook bodies carry `metafields` when a subscription asks for them; the install backfill's bulk rows
carry the standard `facts.birth_date` as `birthDate`. Both go through the same translator and services.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from app.customers.events import apply_customer
from app.customers.ingest import ingest_customers
from app.domain.settings import MemberRules, RulesError, ShopRules
from app.members.birthdays import claim_birth_month
from app.members.records import by_shopify_id
from app.shopify.client import AdminClient
from app.shopify.http import shopify_http_client
from app.shopify.pacing import CostPacer
from app.shopify.payloads.birthdays import month_of
from app.shopify.payloads.bulk import customer_event
from app.shopify.payloads.rest import customer_from_rest
from app.shops.rules import load_rules, save_rules
from app.sync import backfill
from emulator.fixtures import TEST_SHOP
from tests.integration.services.factories import at
from tests.integration.sync.conftest import install

NOW = at(10)


def body(customer: int, hour: int, *metafields: tuple[str, str, str]) -> dict:
    """A customers/update body `hour` hours after T0, with (namespace, key, value) metafields."""
    return {
        "id": customer,
        "email": f"{customer}@example.jp",
        "updated_at": at(0, hour).isoformat(),
        "metafields": [
            {"namespace": ns, "key": key, "value": value, "type": "date"} for ns, key, value in metafields
        ],
    }


def deliver(session, shop, payload: dict, kind: str = "update"):
    member = apply_customer(session, shop, customer_from_rest(payload, kind, shop.domain), NOW)
    session.flush()
    return member


def test_the_standard_birthday_metafield_gives_the_month(session, shop):
    member = deliver(session, shop, body(501, 1, ("facts", "birth_date", "1990-05-17")), "create")
    assert member.birth_month == 5
    assert member.next_due_at == NOW  # the engine revisits the member at the next upkeep


def test_a_change_of_month_touches_the_member_and_brings_its_replay_forward(session, shop):
    member = deliver(session, shop, body(502, 1, ("facts", "birth_date", "1990-05-17")), "create")
    member.next_due_at = NOW + timedelta(days=30)
    version = member.sync_version
    deliver(session, shop, body(502, 2, ("facts", "birth_date", "1990-06-01")))
    assert (member.birth_month, member.next_due_at, member.sync_version) == (6, NOW, version + 1)
    deliver(session, shop, body(502, 3, ("facts", "birth_date", "1990-06-01")))
    assert member.sync_version == version + 1  # the same month again changes nothing


@pytest.mark.parametrize("value", ["someday", "1990-13-01", "1991-02-29", "17/05", ""])
def test_a_malformed_birthday_is_ignored_and_not_logged(session, shop, caplog, value):
    caplog.set_level(logging.WARNING)
    member = deliver(session, shop, body(503, 1, ("facts", "birth_date", "1990-04-02")), "create")
    deliver(session, shop, body(503, 2, ("facts", "birth_date", value)))
    assert member.birth_month == 4
    assert "facts.birth_date metafield is not a date" in caplog.text
    if value:
        assert value not in caplog.text
    assert "503" not in caplog.text  # nor who the customer is


def test_a_customer_without_the_metafield_keeps_the_month_the_shopper_entered(session, shop):
    member = deliver(session, shop, body(504, 1), "create")
    assert member.birth_month is None
    assert claim_birth_month(member, 7, NOW)
    deliver(session, shop, body(504, 2))  # no metafields at all
    deliver(session, shop, body(504, 3, ("custom", "color", "blue")))  # others, not the birthday
    assert member.birth_month == 7


def test_shopify_overrides_the_shopper_but_the_shopper_cannot_override_twice(session, shop):
    member = deliver(session, shop, body(505, 1), "create")
    assert claim_birth_month(member, 3, NOW)
    assert not claim_birth_month(member, 4, NOW)
    deliver(session, shop, body(505, 2, ("facts", "birth_date", "1985-09-30")))
    assert member.birth_month == 9


def test_an_older_snapshot_does_not_set_the_month(session, shop):
    member = deliver(session, shop, body(506, 5, ("facts", "birth_date", "1990-05-17")), "create")
    deliver(session, shop, body(506, 4, ("facts", "birth_date", "1990-01-17")))
    assert member.birth_month == 5


def test_the_shops_own_birthday_key_is_honoured(session, shop):
    save_rules(session, shop, ShopRules(members=MemberRules(birthday_metafield="custom.birthday")))
    fields = (("facts", "birth_date", "1990-05-17"), ("custom", "birthday", "--11-03"))
    member = deliver(session, shop, body(507, 1, *fields), "create")
    assert member.birth_month == 11
    deliver(session, shop, body(507, 2, ("facts", "birth_date", "1990-02-01")))
    assert member.birth_month == 11  # the standard one is not this shop's
    assert load_rules(shop).members.birthday_metafield == "custom.birthday"


@pytest.mark.parametrize("name", ["birthday", "a.b", "custom.", "custom.birth day", "x" * 256 + ".key", ""])
def test_a_birthday_key_that_is_not_namespace_dot_key_is_refused(name):
    with pytest.raises(RulesError, match=r"members\.birthday_metafield"):
        ShopRules(members=MemberRules(birthday_metafield=name)).validate()
    with pytest.raises(RulesError):
        ShopRules.from_json({"members": {"birthday_metafield": name}})


def test_the_setting_round_trips_and_defaults_to_the_standard_definition():
    assert ShopRules.from_json(None).members.birthday_metafield == "facts.birth_date"
    rules = ShopRules(members=MemberRules(birthday_metafield="custom.birthday"))
    assert ShopRules.from_json(rules.to_json()) == rules
    with pytest.raises(RulesError, match="unknown MemberRules keys"):
        ShopRules.from_json({"members": {"birthday": "facts.birth_date"}})


@pytest.mark.parametrize(
    ("value", "month"),
    [
        ("1990-05-17", 5),
        ("05-17", 5),
        ("--05-17", 5),
        ("1990/5/7", 5),
        ("1990-05-17T00:00:00+09:00", 5),
        (" 2000-02-29 ", 2),
        ("--02-29", 2),
        ("2023-02-29", None),
        ("13-01", None),
        ("04-31", None),
        ("1990-05", None),
        (None, None),
        (19900517, None),
    ],
)
def test_birthday_values_are_read_tolerantly(value, month):
    assert month_of(value) == month


def bulk_row(customer: int, birthday: str | None) -> dict:
    """A row of bulk_customers.graphql's JSONL."""
    node = {"id": f"gid://shopify/Customer/{customer}", "email": f"{customer}@example.jp", "updatedAt": None}
    node["birthDate"] = (
        {"namespace": "facts", "key": "birth_date", "value": birthday} if birthday is not None else None
    )
    return node


def test_the_install_backfill_takes_the_month_for_new_and_known_members(session, shop):
    known = deliver(session, shop, body(601, 1), "create")
    claim_birth_month(known, 2, NOW)
    kept = deliver(session, shop, body(602, 1), "create")
    claim_birth_month(kept, 8, NOW)
    rows = [bulk_row(601, "1980-10-10"), bulk_row(602, None), bulk_row(603, "1999-12-24"), bulk_row(604, "x")]
    ingest_customers(session, shop, [customer_event(row, shop.domain) for row in rows], NOW)
    session.expire_all()
    months = {cid: by_shopify_id(session, shop, cid).birth_month for cid in ("601", "602", "603", "604")}
    assert months == {"601": 10, "602": 8, "603": 12, "604": None}


def test_a_chunk_that_creates_then_updates_a_customer_keeps_the_newest_month(session, shop):
    events = [
        customer_from_rest(body(701, 1, ("facts", "birth_date", "1990-05-17")), "create", shop.domain),
        customer_from_rest(body(701, 2), "update", shop.domain),
        customer_from_rest(body(701, 3, ("facts", "birth_date", "1990-06-17")), "update", shop.domain),
        customer_from_rest(body(702, 1), "create", shop.domain),
    ]
    ingest_customers(session, shop, events, NOW)
    session.expire_all()
    assert by_shopify_id(session, shop, "701").birth_month == 6
    assert by_shopify_id(session, shop, "702").birth_month is None


def test_a_deletion_carries_no_birthday(shop):
    payload = body(801, 1, ("facts", "birth_date", "1990-05-17"))
    assert customer_from_rest(payload, "delete", shop.domain).birth_months == ()
    assert customer_from_rest(payload, "update", shop.domain).birth_months == (("facts.birth_date", 5),)


def test_the_install_backfill_reads_the_standard_birthday_from_the_emulated_shop(
    app, session, emulator_state, emulator_transport
):
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport
    try:
        shop = install(session, emulator_state, TEST_SHOP)
        remote = emulator_state.shop(TEST_SHOP)
        birthday = {"type": "date", "value": "1990-05-17"}
        remote.add_customer(id=9001, email="a@example.jp", metafields={"facts.birth_date": birthday})
        remote.add_customer(id=9002, email="b@example.jp")
        client, pacer = AdminClient(shop, session=session), CostPacer.for_plan(shop.plan)
        backfill.start(session, shop, client, pacer)
        with shopify_http_client(app.config["SETTINGS"]) as http:
            for _ in range(20):
                if not backfill.advance(session, shop, client, pacer, http):
                    break
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)
    session.expire_all()
    assert by_shopify_id(session, shop, "9001").birth_month == 5
    assert by_shopify_id(session, shop, "9002").birth_month is None
