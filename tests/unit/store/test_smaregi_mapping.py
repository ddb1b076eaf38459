"""Smaregi transaction and member records -> domain events (pure mapping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.integrations.smaregi.mapping import (
    MappingError,
    member_event,
    purchase_event,
    read_transaction,
    refund_event,
)

JST = timezone(timedelta(hours=9))


def tx(**overrides):
    base = {
        "transactionHeadId": "25",
        "transactionDateTime": "2026-02-10T16:40:00+09:00",
        "terminalTranDateTime": "2026-02-10T16:36:27+09:00",
        "updDateTime": "2026-02-10T16:41:00+09:00",
        "transactionHeadDivision": "1",
        "cancelDivision": "0",
        "total": "1200",
        "amount": "2",
        "storeId": "1",
        "customerId": "77",
        "customerCode": "C0001",
        "disposeServerTransactionHeadId": None,
        "details": [{"transactionDetailDivision": "1", "quantity": "2"}],
    }
    return base | overrides


def test_a_normal_sale():
    facts = read_transaction(tx())
    assert (facts.kind, facts.total, facts.items_count, facts.customer_code) == (
        "sale",
        Decimal("1200"),
        2,
        "C0001",
    )
    # The register's time, not the server's: offline registers sync late and points follow the sale.
    assert facts.transacted_at == datetime(2026, 2, 10, 16, 36, 27, tzinfo=JST)
    event = purchase_event(facts, "s.myshopify.com", "JPY", "渋谷店")
    assert (event.source, event.source_id, event.location_id, event.location_name) == (
        "smaregi",
        "25",
        "1",
        "渋谷店",
    )
    assert event.customer_ref.external_code == "C0001" and event.gross_amount == Decimal("1200")
    assert event.source_updated_at == datetime(2026, 2, 10, 16, 41, tzinfo=JST)


@pytest.mark.parametrize(
    ("overrides", "kind", "refers_to"),
    [
        ({"cancelDivision": "1"}, "void", None),
        ({"cancelDivision": "1", "disposeServerTransactionHeadId": "20", "total": "-1200"}, "cancel", "20"),
        ({"disposeServerTransactionHeadId": "20", "total": "-500"}, "return", "20"),
        (
            {"details": [{"transactionDetailDivision": "2", "quantity": "-1"}], "total": "-500"},
            "return",
            None,
        ),
        ({"transactionHeadDivision": "6"}, "other", None),  # points added: not a purchase
        ({"disposeServerTransactionHeadId": "0"}, "sale", None),
        ({"disposeServerTransactionHeadId": "25"}, "sale", None),  # pointing at itself is no reference
    ],
)
def test_voids_returns_and_other_divisions(overrides, kind, refers_to):
    facts = read_transaction(tx(**overrides))
    assert (facts.kind, facts.refers_to) == (kind, refers_to)


def test_a_void_in_place_is_a_cancelled_snapshot():
    event = purchase_event(read_transaction(tx(cancelDivision="1")), "s", "JPY", None)
    assert event.cancelled and event.net_amount == 0


def test_a_return_is_a_refund_of_the_original_with_a_positive_amount():
    event = refund_event(
        read_transaction(tx(transactionHeadId="30", disposeServerTransactionHeadId="25", total="-500")), "s"
    )
    assert (event.source_id, event.order_source_id, event.amount) == ("30", "25", Decimal("500"))


def test_a_void_of_another_receipt_takes_back_its_whole_total():
    facts = read_transaction(
        tx(transactionHeadId="31", cancelDivision="1", disposeServerTransactionHeadId="25", total="-1")
    )
    assert refund_event(facts, "s", original_total=Decimal("1200")).amount == Decimal("1200")


def test_a_sale_is_not_a_refund_and_a_return_is_not_a_purchase():
    with pytest.raises(MappingError):
        refund_event(read_transaction(tx()), "s")
    with pytest.raises(MappingError):
        purchase_event(
            read_transaction(tx(disposeServerTransactionHeadId="20", total="-5")), "s", "JPY", None
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"transactionHeadId": None},
        {"terminalTranDateTime": None, "transactionDateTime": None},
        {"terminalTranDateTime": "2026-02-10T16:36:27"},  # no offset: ambiguous, refused
        {"total": "12a"},
    ],
)
def test_records_that_cannot_be_understood_are_refused(overrides):
    with pytest.raises(MappingError):
        read_transaction(tx(**overrides))


def test_a_member_prefers_the_mobile_number():
    event = member_event(
        {
            "customerId": "77",
            "customerCode": " C0001 ",
            "phoneNumber": "03-1234-5678",
            "mobileNumber": "090-1234-5678",
            "mailAddress": "Hanako@Example.jp ",
            "updDateTime": "2026-02-10T16:41:00+09:00",
        },
        "s",
    )
    assert (event.external_id, event.external_code, event.phone) == ("77", "C0001", "090-1234-5678")
    assert event.email == "Hanako@Example.jp" and event.updated_at.tzinfo is not None
    assert member_event({"customerId": "78", "phoneNumber": "03-1234-5678"}, "s").phone == "03-1234-5678"


def test_times_in_utc_are_accepted():
    facts = read_transaction(tx(terminalTranDateTime="2026-02-10T07:36:27Z"))
    assert facts.transacted_at == datetime(2026, 2, 10, 7, 36, 27, tzinfo=UTC)
