"""A new reward code reaches the member: LINE when linked (and not opted out), and the member card (ja/en)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.integrations.line.links import connect_line, link_user, set_opt_out
from app.integrations.line.sender import send_due
from app.models.integrations import LineMessage
from app.models.types import utcnow
from tests.integration.campaigns.conftest import award, campaign, customer_member, run_job
from tests.integration.proxy.conftest import get
from tests.integration.store.conftest import LINE_SECRET, LINE_TOKEN


@pytest.fixture
def line(session, installed, line_api):
    connect_line(session, installed, channel_secret=LINE_SECRET, access_token=LINE_TOKEN, bot_basic_id="@t")
    session.commit()
    return line_api


def messages(session) -> list[LineMessage]:
    return list(session.scalars(select(LineMessage).where(LineMessage.kind == "reward_code")))


def test_a_linked_member_gets_the_code_by_line(session, installed, remote, line):
    cid, member = customer_member(session, installed, remote)
    link_user(session, installed, str(cid), "U-hanako", language="ja")
    session.commit()
    row = award(session, campaign(session, installed, valid_days=14), member)
    run_job(session, installed)
    (queued,) = messages(session)
    assert queued.source_ref == f"award:{row.id}" and queued.status == "scheduled"
    assert send_due(session, queued.scheduled_for)["sent"] == 2  # with the link confirmation
    session.refresh(row)
    (text,) = [t for t in line.texts_to("U-hanako") if row.code in t]
    assert "送料無料" in text and "まで" in text


def test_the_english_message_names_the_value(session, installed, remote, line):
    cid, member = customer_member(session, installed, remote)
    link_user(session, installed, str(cid), "U-ken", language="en")
    session.commit()
    row = award(session, campaign(session, installed, kind="amount", code_value=Decimal("500")), member)
    run_job(session, installed)
    (queued,) = messages(session)
    send_due(session, queued.scheduled_for)
    session.refresh(row)
    (text,) = [t for t in line.texts_to("U-ken") if row.code in t]
    assert "¥500 off" in text and "until" in text


def test_no_line_message_without_a_link_or_after_opting_out(session, installed, remote, line):
    _, unlinked = customer_member(session, installed, remote)
    cid, opted_out = customer_member(session, installed, remote)
    link_user(session, installed, str(cid), "U-quiet")
    set_opt_out(session, installed, "U-quiet", True)
    session.commit()
    offer = campaign(session, installed)
    award(session, offer, unlinked)
    award(session, offer, opted_out)
    assert run_job(session, installed)["active"] == 2
    assert messages(session) == []


def test_a_code_used_before_the_message_goes_out_is_not_sent(session, installed, remote, line):
    cid, member = customer_member(session, installed, remote)
    link_user(session, installed, str(cid), "U-fast")
    session.commit()
    row = award(session, campaign(session, installed), member)
    run_job(session, installed)
    row.code_status = "used"
    session.commit()
    (queued,) = messages(session)
    send_due(session, queued.scheduled_for)
    session.refresh(queued)
    assert (queued.status, queued.last_error) == ("skipped", "no open reward code")
    assert not [t for t in line.texts_to("U-fast") if row.code in t]


@pytest.mark.parametrize(
    ("lang", "reward", "until"), [("ja", "送料無料", "まで"), ("en", "Free shipping", "until")]
)
def test_the_card_lists_open_codes(client, session, installed, remote, lang, reward, until):
    cid, member = customer_member(session, installed, remote)
    row = award(session, campaign(session, installed), member)
    run_job(session, installed)
    session.refresh(row)
    html = get(client, "card", str(cid), lang=lang).get_data(as_text=True)
    assert f'<b class="code">{row.code}</b>' in html
    assert reward in html and until in html


def test_the_card_leaves_out_used_and_ended_codes(client, session, installed, remote):
    cid, member = customer_member(session, installed, remote)
    offer = campaign(session, installed)
    used, ended = award(session, offer, member, "a"), award(session, offer, member, "b")
    run_job(session, installed)
    session.refresh(used)
    session.refresh(ended)
    used.code_status = "used"
    ended.code_expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    html = get(client, "card", str(cid), lang="en").get_data(as_text=True)
    assert used.code not in html and ended.code not in html and "reward-codes" not in html
