"""Every Admin API document the app sends is valid against the 2026-07 schema, and the scopes fit exactly."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode

from emulator.schema import implied_scopes, parse_document, required_scopes, validate

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted((ROOT / "app" / "shopify" / "graphql").glob("*.graphql"))
TOML_PATH = ROOT / "shopify.app.toml"


def generated_documents() -> dict[str, str]:
    """Documents the app builds at run time (aliased batches), at the sizes it sends."""
    from app.sync.tags import MAX_MUTATIONS, batch_document

    gid = "gid://shopify/Customer/1"
    out = {}
    for size in (1, 2, MAX_MUTATIONS):
        ops = [("tagsAdd" if i % 2 else "tagsRemove", gid, ["tsunagu:rank-gold"]) for i in range(size)]
        out[f"tags batch x{size}"] = batch_document(ops)[0]
    return out


TEXTS = {**{p.name: p.read_text() for p in DOCUMENTS}, **generated_documents()}


def declared_scopes() -> set[str]:
    """Required and optional scopes: a merchant who uses every feature has granted both."""
    access = tomllib.loads(TOML_PATH.read_text())["access_scopes"]
    required = {s.strip() for s in access["scopes"].split(",") if s.strip()}
    return required | {s.strip() for s in access.get("optional_scopes", []) if s.strip()}


def explained_scopes() -> set[str]:
    """Scopes that no document needs but that carry a `# scope: why` comment in shopify.app.toml."""
    return set(re.findall(r"^#\s*([a-z_]+):\s*\S", TOML_PATH.read_text(), flags=re.MULTILINE))


def test_there_are_documents():
    assert DOCUMENTS, "app/shopify/graphql/ holds no .graphql documents"


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_document_is_valid_against_the_real_schema(name):
    text = TEXTS[name]
    errors = validate(text)
    assert not errors, [e.message for e in errors]
    operations = [d for d in parse_document(text).definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1, "one operation per file"
    assert operations[0].name is not None, (
        "operations are named (Shopify's logs and our cost records use the name)"
    )


def test_declared_scopes_cover_every_document():
    granted = implied_scopes(declared_scopes())
    missing = {name: sorted(required_scopes(text) - granted) for name, text in TEXTS.items()}
    assert {k: v for k, v in missing.items() if v} == {}


def test_every_declared_scope_is_needed_or_explained():
    needed: set[str] = set()
    for text in TEXTS.values():
        needed |= required_scopes(text)
    needed = set(implied_scopes(needed))
    unexplained = {
        scope
        for scope in declared_scopes()
        if scope not in needed
        and scope not in explained_scopes()
        and not (scope.startswith("read_") and "write_" + scope[5:] in needed)
    }
    assert unexplained == set(), "each scope is needed by a document or carries a '# scope: why' comment"
