"""Customer tags for tools that read only tags: added and removed only when they change, many per request.

`tagsAdd`/`tagsRemove` touch only the tags named, so the merchant's own tags are never overwritten
(https://shopify.dev/docs/api/admin-graphql/latest/mutations/tagsAdd). We remember exactly which tags we
put on each customer, so a changed prefix or a renamed rank removes the old tag instead of leaving it.

A round's tag changes travel as aliased mutations in one request (up to `MAX_MUTATIONS`): Shopify charges
10 points per mutation field either way, but one round trip instead of one per customer keeps the syncer's
pass short, so the next sale's metafields are not queued behind a string of tag calls. Mutations in one
request are not atomic: each alias reports its own `userErrors`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.shopify.errors import ShopifyUserErrors
from app.shopify.pacing import MUTATION_COST, CostPacer, paced_execute

MAX_MUTATIONS = 25  # per request: 250 points requested, far below Shopify's 1,000-point limit per query
PAYLOAD = "node { id } userErrors { field message }"


@dataclass(frozen=True)
class TagChange:
    """One customer's tag change; `key` names it for the caller (the member id)."""

    key: Hashable
    customer_gid: str
    add: tuple[str, ...]
    remove: tuple[str, ...]

    @property
    def mutations(self) -> int:
        return bool(self.add) + bool(self.remove)


def tag_changes(desired: Iterable[str], held: Iterable[str]) -> tuple[list[str], list[str]]:
    """(tags to add, tags to remove) to turn the app tags Shopify holds into the desired ones."""
    want = {t.lower(): t for t in desired}
    have = {t.lower(): t for t in held}
    add = sorted(tag for key, tag in want.items() if key not in have)
    remove = sorted(tag for key, tag in have.items() if key not in want)
    return add, remove


def batch_document(operations: Sequence[tuple[str, str, Sequence[str]]]) -> tuple[str, dict[str, Any]]:
    """One mutation document with an aliased `tagsAdd`/`tagsRemove` per (mutation, customer gid, tags)."""
    definitions: list[str] = []
    fields: list[str] = []
    variables: dict[str, Any] = {}
    for i, (mutation, gid, tags) in enumerate(operations):
        if mutation not in ("tagsAdd", "tagsRemove"):
            raise ValueError(f"not a tag mutation: {mutation}")
        definitions.append(f"$id{i}: ID!, $tags{i}: [String!]!")
        fields.append(f"  m{i}: {mutation}(id: $id{i}, tags: $tags{i}) {{ {PAYLOAD} }}")
        variables[f"id{i}"], variables[f"tags{i}"] = gid, list(tags)
    return f"mutation TagsBatch({', '.join(definitions)}) {{\n" + "\n".join(fields) + "\n}", variables


def push_tag_changes(
    client: Any, pacer: CostPacer, changes: Sequence[TagChange]
) -> tuple[int, dict[Hashable, str]]:
    """Apply the changes (removals before additions per customer); returns (requests, refused key -> why).

    A customer whose mutation Shopify refuses (gone, for instance) is reported, the others are applied.
    """
    operations: list[tuple[str, str, Sequence[str], Hashable]] = []
    for change in changes:
        if change.remove:
            operations.append(("tagsRemove", change.customer_gid, change.remove, change.key))
        if change.add:
            operations.append(("tagsAdd", change.customer_gid, change.add, change.key))
    calls, refused = 0, dict[Hashable, str]()
    for start in range(0, len(operations), MAX_MUTATIONS):
        chunk = operations[start : start + MAX_MUTATIONS]
        document, variables = batch_document([op[:3] for op in chunk])
        calls += 1
        try:
            paced_execute(client, pacer, document, variables, expected_cost=MUTATION_COST * len(chunk))
        except ShopifyUserErrors as exc:
            for i, (mutation, _, _, key) in enumerate(chunk):
                errors = ((exc.data or {}).get(f"m{i}") or {}).get("userErrors") or []
                if errors:
                    reason = f"{mutation}: " + "; ".join(str(e.get("message")) for e in errors)
                    refused.setdefault(key, reason)
    return calls, refused
