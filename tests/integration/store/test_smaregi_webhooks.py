"""POST /integrations/smaregi/webhooks: shared secret, dedupe by Smaregi-Event-Id, record and answer 200."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.integrations.smaregi.views import SECRET_HEADER
from app.models.inbox import InboxEvent, InboxStatus
from tests.integration.store.conftest import CONTRACT, WEBHOOK_SECRET
from tests.integration.store.helpers import deliver


def rows(session):
    return session.scalars(select(InboxEvent).where(InboxEvent.source == "smaregi")).all()


def test_a_delivery_is_recorded_once_and_answered_200(client, session, connected, smaregi):
    first = deliver(client, smaregi, "pos:transactions", "created", ["1001"], event_id="evt-1")
    again = deliver(client, smaregi, "pos:transactions", "created", ["1001"], event_id="evt-1")

    assert (first.status_code, again.status_code) == (200, 200)
    [row] = rows(session)
    assert (row.topic, row.status, row.delivery_id, row.shop_domain) == (
        "pos:transactions",
        InboxStatus.PENDING,
        "evt-1",
        "test-shop.myshopify.com",
    )
    assert json.loads(row.payload)["transactionHeadIds"] == ["1001"]


def test_a_new_event_id_is_a_new_row(client, session, connected, smaregi):
    deliver(client, smaregi, "pos:transactions", "created", ["1001"], event_id="evt-1")
    deliver(client, smaregi, "pos:transactions", "edited", ["1001"], event_id="evt-2")
    assert session.scalar(select(func.count()).select_from(InboxEvent)) == 2


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h, b: h.update({SECRET_HEADER: "wrong-secret-wrong-secret"}), 401),
        (lambda h, b: h.pop(SECRET_HEADER), 401),
        (lambda h, b: h.update({"Smaregi-Contract-Id": "sb_unknown"}), 401),
        (lambda h, b: b.__setitem__(0, b"{not json"), 400),
        (
            lambda h, b: b.__setitem__(
                0, json.dumps({"contractId": "other", "event": "pos:transactions"}).encode()
            ),
            400,
        ),
        (lambda h, b: b.__setitem__(0, b"[1, 2]"), 400),
    ],
    ids=[
        "wrong-secret",
        "no-secret",
        "unknown-contract",
        "not-json",
        "other-contract-in-body",
        "not-an-object",
    ],
)
def test_bad_deliveries_are_refused_and_not_recorded(client, session, connected, smaregi, mutate, status):
    headers, body = smaregi.webhook(CONTRACT, "pos:transactions", "created", ["1001"])
    headers[SECRET_HEADER] = WEBHOOK_SECRET
    holder = [body]
    mutate(headers, holder)
    response = client.post("/integrations/smaregi/webhooks", data=holder[0], headers=headers)
    assert response.status_code == status
    assert rows(session) == []


def test_an_event_we_do_not_handle_is_kept_as_ignored(client, session, connected, smaregi):
    headers, _ = smaregi.webhook(CONTRACT, "pos:transactions", "created", ["1"])
    headers.update({SECRET_HEADER: WEBHOOK_SECRET, "Smaregi-Event": "pos:products"})
    body = json.dumps(
        {"contractId": CONTRACT, "event": "pos:products", "action": "created", "productIds": ["1"]}
    )
    assert client.post("/integrations/smaregi/webhooks", data=body, headers=headers).status_code == 200
    [row] = rows(session)
    assert row.status == InboxStatus.IGNORED


def test_a_body_over_2_mb_is_refused(client, session, connected, smaregi):
    headers, _ = smaregi.webhook(CONTRACT, "pos:transactions", "created", ["1"])
    headers[SECRET_HEADER] = WEBHOOK_SECRET
    body = b'{"contractId": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert client.post("/integrations/smaregi/webhooks", data=body, headers=headers).status_code == 413
    assert rows(session) == []


def test_without_an_event_id_nothing_is_deduplicated(client, session, connected, smaregi):
    headers, body = smaregi.webhook(CONTRACT, "pos:transactions", "edited", ["1001"])
    headers[SECRET_HEADER] = WEBHOOK_SECRET
    del headers["Smaregi-Event-Id"]
    for _ in range(2):  # two edits of one receipt look identical: both must be processed
        assert client.post("/integrations/smaregi/webhooks", data=body, headers=headers).status_code == 200
    assert len(rows(session)) == 2
