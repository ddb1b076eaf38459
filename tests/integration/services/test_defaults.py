"""The DESIGN.md defaults, end to end through the services."""

from __future__ import annotations

from decimal import Decimal

from app.domain.history import aggregate
from app.members.records import member_facts
from app.models import Member
from app.points.purchases import apply_purchase, apply_refund
from tests.integration.services.factories import at, order, refund


def test_pos_then_online_then_partial_refund_gives_320_pending_silver_omni(session, shop):
    # 1) POS sale of 12,000 JPY: a new member holds `regular` (x1.0): floor(12000 * 1% * 1.0) = 120.
    pos = apply_purchase(
        session, shop, order("pos-1", 12000, day=0, pos_location="77", store_name="Shibuya"), now=at(0)
    )
    # 2) Online sale of 25,000 JPY a day later. The rank held *before* it is still `regular`: the rolling
    #    spend before the sale is 12,000 < 30,000 (silver). So floor(25000 * 1% * 1.0) = 250.
    online = apply_purchase(session, shop, order("web-1", 25000, day=1), now=at(1))
    assert (pos.points, online.points) == (120, 250)
    # 3) 5,000 JPY refunded on the online order: its net is 20,000 -> floor(20000 * 1% * 1.0) = 200,
    #    a reversal of 50 (= 250 * 5000 / 25000). Total 120 + 200 = 320, all still inside the 14-day window.
    apply_refund(session, shop, refund("r-1", "web-1", 5000, day=2), now=at(2))
    member = session.get(Member, online.member_id)
    assert pos.member_id == online.member_id
    assert member.points_pending == 320
    assert member.points_available == 0
    agg = aggregate(member_facts(session, member), at(2))
    assert agg.spend_12m == Decimal("32000")
    # 32,000 >= 30,000: silver now (it only affects purchases after this point).
    assert member.rank == "silver"
    assert agg.channel_mix == "omni"
