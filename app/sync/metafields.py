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
    namespaces: set[str] = field(default_factory=set)  # as Shopify answered: `$app` resolved to `app--<id>`


def split_key(key: str) -> tuple[str, str]:
    """(namespace, key) of a projection key: a bare key is the app's (`$app`), `tsunagu.rank` the mirror's."""
    namespace, _, short = key.rpartition(".")
    return namespace or NAMESPACE, short


def _projection_key(namespace: str, key: str) -> str:
    return key if namespace == NAMESPACE else f"{namespace}.{key}"


def diff(projection: Projection, values: dict[str, str], digests: dict[str, str]) -> MemberChange:
    """Only what differs from what Shopify holds (`values`) becomes a write; None values become deletes.

    The mirror in a merchant-owned namespace is different: any app may write there, so its values are
    re-asserted whenever the member is synced (without compareDigest), and removed when the projection no
    longer has them (the merchant switched the mirror off).
    """
    change = MemberChange(projection)
    for key, wanted in sorted(projection.metafields.items()):
        held = values.get(key)
        namespace, short = split_key(key)
        mirrored = namespace != NAMESPACE
        if wanted.value is None:
            if held is not None:
                change.deletes.append(key)
            continue
        if wanted.value == held and not mirrored:
            continue
        item: dict[str, Any] = {
            "ownerId": projection.customer_gid,
            "namespace": namespace,
            "key": short,
            "type": wanted.type,
            "value": wanted.value,
        }
        if key in digests and not mirrored:
            item["compareDigest"] = digests[key]
        change.sets.append(item)
    change.deletes.extend(sorted(k for k in values if "." in k and k not in projection.metafields))
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
        result.namespaces.update(str(m["namespace"]) for m in written if m.get("namespace"))
        by_owner_key = {
            ((m.get("owner") or {}).get("id"), _sent_as(m.get("namespace")), m["key"]): (
                m["value"],
                m.get("compareDigest"),
            )
            for m in written
        }
        for change, item in pending:
            confirmed = result.confirmed.setdefault(change.member_id, {})
            owner_key = (change.projection.customer_gid, item["namespace"], item["key"])
            key = _projection_key(item["namespace"], item["key"])
            confirmed[key] = by_owner_key.get(owner_key, (item["value"], None))
        pending = []
    return result


def _sent_as(namespace: str | None) -> str:
    """The namespace as the app sent it: Shopify answers `$app` writes with the resolved `app--<id>`."""
    return NAMESPACE if namespace is None or namespace.startswith("app--") else namespace


def send_deletes(client: Any, pacer: CostPacer, changes: Sequence[MemberChange]) -> dict[int, list[str]]:
    """`metafieldsDelete` for keys whose value became empty; returns the keys deleted per member."""
    items = [(c, key) for c in changes for key in c.deletes]
    done: dict[int, list[str]] = {}
    for start in range(0, len(items), MAX_PER_CALL):
        chunk = items[start : start + MAX_PER_CALL]
        variables = {
            "metafields": [
                dict(
                    zip(("namespace", "key"), split_key(key), strict=True), ownerId=c.projection.customer_gid
                )
                for c, key in chunk
            ]
        }
        paced_execute(client, pacer, METAFIELDS_DELETE, variables)
        for change, key in chunk:
            done.setdefault(change.member_id, []).append(key)
    return done


def read_current(
    client: Any, pacer: CostPacer, customer_gid: str, namespace: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """What Shopify holds now for one customer (values and digests), after a compareDigest conflict.

    `namespace` is the shop's learned `app--<id>`; `$app` (resolved by Shopify) until it is known.
    """
    variables = {"id": customer_gid, "first": 50, "namespace": namespace or NAMESPACE}
    data = paced_execute(client, pacer, CUSTOMER_METAFIELDS, variables, expected_cost=60)
    nodes = (((data.get("customer") or {}).get("metafields")) or {}).get("nodes") or []
    values = {n["key"]: n["value"] for n in nodes}
    digests = {n["key"]: n["compareDigest"] for n in nodes}
    return values, digests
