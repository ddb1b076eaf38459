"""POS extension calls: the emulator as Shopify, session tokens minted with the app's secret."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.domain.identity import phone_hash
from app.members.identity import hash_key
from app.models import Shop
from app.models.types import utcnow
from app.points import spending
from tests.integration.admin.factories import member
from tests.integration.auth.conftest import SHOP_A, SHOP_B, emulator  # noqa: F401  (the fixture)

PHONE = "090-1234-5678"


class Pos:
    """Acts as the POS extension: JSON posts with `Authorization: Bearer <session token>`."""

    def __init__(self, client, emu) -> None:
        self.client, self.emu = client, emu

    def post(self, path: str, body, shop: str = SHOP_A, token: str | None = None, **claims):
        token = token if token is not None else self.emu.mint(shop, **claims)
        return self.client.post(f"/pos/api{path}", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def pos(client, emulator):  # noqa: F811  (the imported fixture)
    return Pos(client, emulator)


def installed_shop(session, pos: Pos, domain: str = SHOP_A) -> Shop:
    """The shop, installed through its first POS call (the session token is exchanged, as in the admin)."""
    pos.post("/members/lookup", {"member_number": "000000000000"}, shop=domain)
    return session.scalar(select(Shop).where(Shop.domain == domain))


def funded(session, shop: Shop, points: int, phone: str | None = None, **fields):
    """A member with `points` from a real ledger entry."""
    row = member(session, shop, **fields)
    row.phone_hash = phone_hash(hash_key(), shop.id, phone) if phone else None
    session.flush()
    if points:
        spending.adjust(session, row, points, reason="seed", source_id=f"seed:{row.id}", now=utcnow())
    session.commit()
    return row


def new_key() -> str:
    return str(uuid.uuid4())
