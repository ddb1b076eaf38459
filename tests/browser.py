"""Debian's Chromium, driven by Playwright: one browser per pytest session for every browser test.

Playwright's sync API runs its own event loop for as long as it is open, so a second `sync_playwright()`
in the same process fails ("Sync API inside the asyncio loop"). Every browser test therefore takes the
session-wide `browser` fixture (tests/conftest.py) instead of starting Playwright itself.
"""

from __future__ import annotations

from collections.abc import Iterator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch() -> Iterator[object]:
    """Yield a launched Chromium (never a downloaded browser); close it and Playwright afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
