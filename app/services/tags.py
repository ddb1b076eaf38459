"""Customer tags for tools that read only tags: added and removed only when they change.

`tagsAdd`/`tagsRemove` touch only the tags named, so the merchant's own tags are never overwritten
(https://shopify.dev/docs/api/admin-graphql/latest/mutations/tagsAdd). We remember exactly which tags we
put on each customer, so a changed prefix or a renamed rank removes the old tag instead of leaving it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.services.pacing import CostPacer, paced_execute

TAGS_ADD = "tags_add"
TAGS_REMOVE = "tags_remove"


def tag_changes(desired: Iterable[str], held: Iterable[str]) -> tuple[list[str], list[str]]:
    """(tags to add, tags to remove) to turn the app tags Shopify holds into the desired ones."""
    want = {t.lower(): t for t in desired}
    have = {t.lower(): t for t in held}
    add = sorted(tag for key, tag in want.items() if key not in have)
    remove = sorted(tag for key, tag in have.items() if key not in want)
    return add, remove


def push_tags(client: Any, pacer: CostPacer, customer_gid: str, add: list[str], remove: list[str]) -> int:
    """Apply the changes to one customer; returns the number of calls made (0 when nothing changed)."""
    calls = 0
    if remove:
        paced_execute(client, pacer, TAGS_REMOVE, {"id": customer_gid, "tags": remove})
        calls += 1
    if add:
        paced_execute(client, pacer, TAGS_ADD, {"id": customer_gid, "tags": add})
        calls += 1
    return calls
