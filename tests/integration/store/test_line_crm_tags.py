"""A `line` tag from a LINE CRM app counts as line_linked, read through GraphQL (Shopify emulator)."""

from __future__ import annotations

import pytest

from app.integrations.line.crm_tags import is_line_tag, sync_line_tags
from app.integrations.line.links import link_user
from app.members.identity import member_for_customer
from app.models.integrations import LineLink, LineTaggedCustomer
from emulator.transport import emulator_transport
from tests.integration.sync.conftest import Clock, build_emulator, install


@pytest.fixture
def tagged_world(app, committed):
    state, remote, wsgi = build_emulator(Clock())
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport(wsgi)
    try:
        yield committed.session, install(committed.session, state), remote
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


@pytest.mark.parametrize(
    ("tag", "counts"),
    [("line", True), ("LINE", True), (" Line ", True), ("line-friend", False), ("offline", False)],
)
def test_only_the_line_tag_itself_counts(tag, counts):
    assert is_line_tag(tag) is counts


def test_a_line_tag_marks_the_member_linked_and_its_removal_unmarks(tagged_world):
    session, shop, remote = tagged_world
    tagged = remote.add_customer(email="a@example.com", tags=["VIP", "LINE"])
    remote.add_customer(email="b@example.com", tags=["line-friend"])
    untagged = remote.add_customer(email="c@example.com")
    customer_id = str(tagged["id"])

    assert sync_line_tags(session, shop) == 1
    member = member_for_customer(session, shop, customer_id)
    version = member.sync_version
    assert member.line_linked is True
    assert member_for_customer(session, shop, str(untagged["id"])).line_linked is False
    assert session.query(LineLink).count() == 0  # no LINE user id: nothing is ever sent to them
    assert sync_line_tags(session, shop) == 0  # unchanged tags: no member is touched again
    assert member.sync_version == version

    tagged["tags"] = ["VIP"]
    assert sync_line_tags(session, shop) == 1
    assert member_for_customer(session, shop, customer_id).line_linked is False
    assert session.query(LineTaggedCustomer).count() == 0


def test_a_member_linked_by_us_stays_linked_when_the_tag_goes(tagged_world):
    session, shop, remote = tagged_world
    tagged = remote.add_customer(email="a@example.com", tags=["line"])
    customer_id = str(tagged["id"])
    sync_line_tags(session, shop)
    link_user(session, shop, customer_id, "U" + "c" * 32)
    tagged["tags"] = []
    sync_line_tags(session, shop)
    assert member_for_customer(session, shop, customer_id).line_linked is True


def test_the_line_tags_command_reads_every_installed_shop(app, tagged_world):
    session, shop, remote = tagged_world
    customer_id = str(remote.add_customer(email="a@example.com", tags=["line"])["id"])
    result = app.test_cli_runner().invoke(args=["line-tags"])
    assert result.exit_code == 0 and f"{shop.domain}: 1 members changed" in result.output
    assert member_for_customer(session, shop, customer_id).line_linked is True
