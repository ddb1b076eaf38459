"""The reliability suite: reduced sizes in `make test`, full sizes with RELIABILITY_FULL=1."""

from __future__ import annotations

import os

from tests.integration.sync.conftest import world  # noqa: F401  (the emulated shop on a movable clock)

FULL = os.environ.get("RELIABILITY_FULL") == "1"


def size(quick: int, full: int) -> int:
    """The reduced size in the normal run, the full one under RELIABILITY_FULL=1."""
    return full if FULL else quick
