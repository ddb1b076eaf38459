"""GraphQL documents, one operation per `.graphql` file in this folder, loaded by name."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DOCUMENTS_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class UnknownDocument(LookupError):
    """No `.graphql` file has that name."""


@cache
def _read(name: str) -> str:
    path = DOCUMENTS_DIR / f"{name}.graphql"
    if not path.is_file():
        raise UnknownDocument(f"no GraphQL document named {name!r} in {DOCUMENTS_DIR}")
    return path.read_text(encoding="utf-8")


def load_document(document: str) -> str:
    """The text of the named document (file name without `.graphql`), or the argument if it is a document."""
    if _NAME.fullmatch(document):
        return _read(document)
    if "{" not in document:
        raise UnknownDocument(f"{document!r} is neither a document name nor a GraphQL document")
    return document
