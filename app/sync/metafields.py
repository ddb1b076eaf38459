"""Metafield writes: diff each member's projection against what Shopify confirmed, pack 25 a call, confirm.

Shopify takes at most 25 metafields per `metafieldsSet`, of any owners, atomically
(https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet). A member's changes always
travel in one call (16 + 1 keys fit), so a call confirms whole members. Each write carries the
`compareDigest` Shopify gave us last time: if anything else wrote in between (a stale syncer whose lease ran
out), the call fails with STALE_OBJECT instead of overwriting a newer value, and we re-read the digests
before trying again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.members.projection import Projection
from app.shopify.errors import ShopifyUserErrors
from app.shopify.pacing import CostPacer, paced_execute

METAFIELDS_SET = "metafields_set"
METAFIELDS_DELETE = "metafields_delete"
CUSTOMER_METAFIELDS = "customer_metafields"
MAX_PER_CALL = 25  # Shopify's limit for metafieldsSet (and what we use for metafieldsDelete)
NAMESPACE = "$app"


@dataclass
class MemberChange:
    """What one member needs in Shopify: metafields to set (inputs) and keys to delete."""

    projection: Projection
    sets: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    @property
    def member_id(self) -> int:
        return self.projection.member_id

    @property
    def empty(self) -> bool:
        return not self.sets and not self.deletes


@dataclass
class BatchResult:
    """Per member: the values and digests Shopify confirmed, or why it refused them."""

    confirmed: dict[int, dict[str, tuple[str | None, str | None]]] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)
    stale: set[int] = field(default_factory=set)  # compareDigest mismatch: re-read, then retry
    calls: int = 0


def diff(projection: Projection, values: dict[str, str], digests: dict[str, str]) -> MemberChange:
    """Only what differs from what Shopify holds (`values`) becomes a write; None values become deletes."""
    change = MemberChange(projection)
    for key, wanted in sorted(projection.metafields.items()):
        held = values.get(key)
        if wanted.value is None:
            if held is not None:
                change.deletes.append(key)
            continue
        if wanted.value == held:
            continue
        item: dict[str, Any] = {
            "ownerId": projection.customer_gid,
            "namespace": NAMESPACE,
            "key": key,
            "type": wanted.type,
            "value": wanted.value,
        }
        if key in digests:
            item["compareDigest"] = digests[key]
        change.sets.append(item)
    return change


def pack(changes: Iterable[MemberChange], limit: int = MAX_PER_CALL) -> list[list[tuple[MemberChange, dict]]]:
    """Cut all members' writes into calls of at most `limit` metafields, filling every call.

    A member's writes may span two calls: each key is confirmed on its own, and the member's version is
    confirmed only once all of its keys are.
    """
    items = [(change, item) for change in changes for item in change.sets]
    return [items[start : start + limit] for start in range(0, len(items), limit)]


def send_sets(client: Any, pacer: CostPacer, batch: Sequence[tuple[MemberChange, dict]]) -> BatchResult:
    """One `metafieldsSet` for a batch; members Shopify refuses are set aside and the rest sent again."""
    result = BatchResult()
    pending = list(batch)
    while pending:
        inputs = [item for _, item in pending]
        result.calls += 1
        try:
            data = paced_execute(client, pacer, METAFIELDS_SET, {"metafields": inputs})
        except ShopifyUserErrors as exc:
            # Atomic: nothing was written. Drop the members whose inputs failed, keep the rest.
            bad: set[int] = set()
            for err in exc.user_errors:
                index = err.get("elementIndex")
                if index is None or not 0 <= int(index) < len(pending):
                    raise  # an error we cannot pin on a member: let the pass fail and retry later
                member_id = pending[int(index)][0].member_id
                bad.add(member_id)
                if err.get("code") in ("STALE_OBJECT", "INVALID_COMPARE_DIGEST"):
                    result.stale.add(member_id)
                else:
                    result.refused[member_id] = f"{err.get('code')}: {err.get('message')}"
            pending = [(c, item) for c, item in pending if c.member_id not in bad]
            continue
        written = (data.get("metafieldsSet") or {}).get("metafields") or []
        by_owner_key = {
            ((m.get("owner") or {}).get("id"), m["key"]): (m["value"], m.get("compareDigest"))
            for m in written
        }
        for change, item in pending:
            confirmed = result.confirmed.setdefault(change.member_id, {})
            owner_key = (change.projection.customer_gid, item["key"])
            confirmed[item["key"]] = by_owner_key.get(owner_key, (item["value"], None))
        pending = []
    return result


def send_deletes(client: Any, pacer: CostPacer, changes: Sequence[MemberChange]) -> dict[int, list[str]]:
    """`metafieldsDelete` for keys whose value became empty; returns the keys deleted per member."""
    items = [(c, key) for c in changes for key in c.deletes]
    done: dict[int, list[str]] = {}
    for start in range(0, len(items), MAX_PER_CALL):
        chunk = items[start : start + MAX_PER_CALL]
        variables = {
            "metafields": [
                {"ownerId": c.projection.customer_gid, "namespace": NAMESPACE, "key": key} for c, key in chunk
            ]
        }
        paced_execute(client, pacer, METAFIELDS_DELETE, variables)
        for change, key in chunk:
            done.setdefault(change.member_id, []).append(key)
    return done


def read_current(client: Any, pacer: CostPacer, customer_gid: str) -> tuple[dict[str, str], dict[str, str]]:
    """What Shopify holds now for one customer (values and digests), after a compareDigest conflict."""
    data = paced_execute(
        client, pacer, CUSTOMER_METAFIELDS, {"id": customer_gid, "first": 50}, expected_cost=60
    )
    nodes = (((data.get("customer") or {}).get("metafields")) or {}).get("nodes") or []
    values = {n["key"]: n["value"] for n in nodes}
    digests = {n["key"]: n["compareDigest"] for n in nodes}
    return values, digests
