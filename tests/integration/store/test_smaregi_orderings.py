"""Property: whatever the order, duplication and staleness of Smaregi deliveries, points follow the receipts.

Each example rings a few receipts for a fresh member (sales, edits, partial returns, voids), then delivers
their webhooks shuffled and duplicated, and replays stale snapshots read before the last edit. The member's
points must equal what the final receipts are worth (1 point per 100 JPY; totals stay under the silver
threshold so the rate is constant).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.integrations.smaregi.client import SmaregiClient
from app.integrations.smaregi.ingest import apply_transaction
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, store_member, work

START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
_codes = itertools.count(1)

sale = st.fixed_dictionaries(
    {
        "total": st.integers(100, 6000),
        "edit": st.none() | st.integers(100, 6000),
        "after": st.sampled_from(["keep", "return", "void", "void_in_place"]),
        "returned": st.integers(1, 100),  # percent of the final total
    }
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sales=st.lists(sale, min_size=1, max_size=3),
    order=st.randoms(use_true_random=False),
    dupes=st.integers(0, 3),
)
def test_points_follow_the_final_receipts(client, session, shop, connected, smaregi, sales, order, dupes):
    code = f"H{next(_codes):05d}"
    member = smaregi.add_customer(CONTRACT, code, mobile=None)
    api = SmaregiClient(connected)
    deliveries: list[str] = []
    stale: list[dict] = []
    expected = 0
    smaregi.clock = datetime.now(UTC)
    for n, spec in enumerate(sales):
        at = START + timedelta(hours=n)
        head = smaregi.ring_sale(CONTRACT, "1", spec["total"], at, member)
        deliveries.append(head)
        final = spec["total"]
        if spec["edit"] is not None:
            stale.append(dict(api.get_transaction(head)))
            smaregi.clock += timedelta(seconds=5)
            smaregi.edit(CONTRACT, head, spec["edit"])
            final = spec["edit"]
        if spec["after"] == "return":
            back = max(final * spec["returned"] // 100, 1)
            deliveries.append(smaregi.ring_return(CONTRACT, head, back, at + timedelta(minutes=30)))
            final -= back
        elif spec["after"] == "void":
            deliveries.append(smaregi.void(CONTRACT, head, at + timedelta(minutes=30)))
            final = 0
        elif spec["after"] == "void_in_place":
            smaregi.clock += timedelta(seconds=5)
            smaregi.void_in_place(CONTRACT, head)
            final = 0
        expected += final // 100
    shuffled = deliveries + [order.choice(deliveries) for _ in range(dupes)]
    order.shuffle(shuffled)
    for head in shuffled:
        deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    for snapshot in stale:  # e.g. a reconciliation page read before the edit, applied late
        apply_transaction(session, shop, api, snapshot)
    found = store_member(session, shop, code)
    assert found.points_pending + found.points_available == expected
