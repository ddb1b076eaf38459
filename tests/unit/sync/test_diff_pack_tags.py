"""Only changed metafields are written, calls are filled up to 25, tags change only when they must."""

from __future__ import annotations

from app.domain.projection import MetafieldValue
from app.members.projection import Projection, desired_tags
from app.sync.freshness import percentile
from app.sync.metafields import MemberChange, diff, pack
from app.sync.tags import tag_changes


def projection(member_id: int, values: dict[str, str | None], version: int = 2) -> Projection:
    return Projection(
        member_id=member_id,
        customer_gid=f"gid://shopify/Customer/{member_id}",
        version=version,
        metafields={k: MetafieldValue("single_line_text_field", v) for k, v in values.items()},
        tags=frozenset(),
    )


def test_diff_sends_changed_values_with_their_digest_and_deletes_emptied_ones():
    p = projection(1, {"rank": "gold", "channel_mix": "omni", "favorite_store": None, "member_number": "M1"})
    change = diff(
        p, {"rank": "silver", "favorite_store": "Shibuya", "member_number": "M1"}, {"rank": "d-rank"}
    )
    assert [(i["key"], i["value"], i.get("compareDigest")) for i in change.sets] == [
        ("channel_mix", "omni", None),
        ("rank", "gold", "d-rank"),
    ]
    assert "compareDigest" not in change.sets[0]  # never written by us: nothing to compare against
    assert change.deletes == ["favorite_store"]


def test_nothing_changed_means_nothing_to_send():
    p = projection(1, {"rank": "gold"})
    assert diff(p, {"rank": "gold"}, {}).empty


def test_pack_fills_calls_to_25_in_member_order():
    changes = [diff(projection(i, {f"k{j:02}": "v" for j in range(14)}), {}, {}) for i in range(5)]
    batches = pack(changes)
    assert [len(b) for b in batches] == [25, 25, 20]
    flat = [(c.member_id, item["key"]) for b in batches for c, item in b]
    assert flat == [(c.member_id, i["key"]) for c in changes for i in c.sets]


def test_pack_skips_members_without_writes():
    assert pack([MemberChange(projection(1, {}))]) == []


def test_tags_change_only_when_needed_and_case_insensitively():
    assert tag_changes({"tsunagu:rank-gold"}, ["Tsunagu:Rank-Gold"]) == ([], [])
    assert tag_changes(desired_tags("tsunagu:", "gold", "omni"), ["tsunagu:rank-silver", "tsunagu:omni"]) == (
        ["tsunagu:rank-gold"],
        ["tsunagu:rank-silver"],
    )
    assert desired_tags("tg_", "regular", "none") == frozenset({"tg_rank-regular"})
    assert desired_tags("tsunagu:", "silver", "store_only") == frozenset(
        {"tsunagu:rank-silver", "tsunagu:store-only"}
    )


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.95) == 95 and percentile([], 0.5) is None
