"""Operator paths: connect commands (secrets sealed), the worker hook and line-send, the status summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent
from app.integrations.line.links import link_user
from app.integrations.periodic import line_tick, run_store_jobs
from app.integrations.status import store_health
from app.models.integrations import LineConnection, LineMessage, SmaregiConnection
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, work

USER = "U0123456789abcdef0123456789abcdef"


def test_connect_commands_seal_the_secrets(app, session, shop):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "smaregi-connect",
            shop.domain,
            "--contract-id",
            "sb_x1",
            "--client-id",
            "cid",
            "--environment",
            "dev",
            "--rank-code",
            "silver=2",
        ],
        env={
            "SMAREGI_CLIENT_SECRET": "very-secret-client",
            "SMAREGI_WEBHOOK_SECRET": "shared-secret-0123456789",
        },
    )
    assert result.exit_code == 0, result.output
    assert "very-secret" not in result.output
    row = session.get(SmaregiConnection, shop.id)
    assert row.contract_id == "sb_x1" and b"very-secret-client" not in row.client_secret_enc
    assert row.rank_codes == {"silver": "2"}
    result = runner.invoke(
        args=["line-connect", shop.domain, "--basic-id", "@shop", "--send-at", "19:30"],
        env={"LINE_CHANNEL_SECRET": "line-secret", "LINE_CHANNEL_ACCESS_TOKEN": "line-token"},
    )
    assert result.exit_code == 0, result.output
    line = session.get(LineConnection, shop.id)
    assert line.send_at_local == "19:30" and b"line-token" not in line.access_token_enc


def test_a_too_short_webhook_secret_is_refused(app, session, shop):
    result = app.test_cli_runner().invoke(
        args=["smaregi-connect", shop.domain, "--contract-id", "sb_x1", "--client-id", "cid"],
        env={"SMAREGI_CLIENT_SECRET": "s", "SMAREGI_WEBHOOK_SECRET": "short"},
    )
    assert result.exit_code != 0 and "webhook_secret" in result.output


def test_a_smaregi_sale_of_a_line_member_is_thanked_by_the_worker_hook(
    client, session, shop, connected, smaregi, line_connected, line_api
):
    """End to end: Smaregi webhook -> worker -> store purchase -> thank-you queued and sent at 20:00."""
    smaregi_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    link_user(session, shop, "7001", USER)
    apply_customer(session, shop, CustomerEvent("create", "7001", phone="090-1234-5678"))
    now = datetime.now(UTC)
    head = smaregi.ring_sale(CONTRACT, "1", 8000, now, smaregi_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    session.commit()
    line_tick(now)
    [thanks] = session.scalars(select(LineMessage).where(LineMessage.kind == "thank_you")).all()
    assert thanks.store_name == "渋谷店" and thanks.source_ref == f"smaregi:{head}"
    assert line_tick(thanks.scheduled_for)["sent"] >= 1
    assert any("渋谷店" in text for text in line_api.texts_to(USER))


def test_line_send_command_runs_the_outbox(app, session, shop, line_connected, line_api):
    link_user(session, shop, "7001", USER)
    session.commit()
    result = app.test_cli_runner().invoke(args=["line-send"])
    assert result.exit_code == 0 and "sent: 1" in result.output


def test_the_status_summary_shows_what_needs_attention(
    client, session, shop, connected, smaregi, line_connected, line_api
):
    member = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(
        client,
        smaregi,
        "pos:transactions",
        "created",
        [smaregi.ring_sale(CONTRACT, "7", 1000, datetime.now(UTC), member)],
    )
    deliver(
        client,
        smaregi,
        "pos:transactions",
        "created",
        [smaregi.ring_sale(CONTRACT, "1", 1000, datetime.now(UTC), None)],
    )
    work(session)
    link_user(session, shop, "7001", USER)
    line_api.fail_next = [500]
    line_tick(datetime.now(UTC) + timedelta(seconds=1))
    health = store_health(session, shop)
    assert health.transactions_by_status == {"applied": 1, "no_customer": 1}
    assert health.unmapped_stores == ["7"]
    assert health.line_by_status == {"scheduled": 1}
    assert health.line_failures[0][1] == "LINE push answered 500"
    result = client.application.test_cli_runner().invoke(args=["store-status", shop.domain])
    assert "unmapped stores: ['7']" in result.output


def test_the_worker_hook_reconciles_only_shops_that_are_due(session, shop, connected, smaregi):
    now = datetime.now(UTC)
    connected.reconciled_until = now - timedelta(minutes=1)
    session.commit()
    smaregi.requests.clear()
    run_store_jobs(now)
    assert smaregi.requests == []
    run_store_jobs(now + timedelta(minutes=20))
    assert ("GET", "/transactions") in smaregi.requests
    assert connected.reconciled_until == now + timedelta(minutes=20)
