"""The member pages on a phone (390 x 844): nothing wider than the screen, tap targets in reach.

Screenshots go to $PROXY_SHOTS when set, to be looked at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.integration.proxy.conftest import buy, get

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_member_page_fits_a_phone(client, session, installed, remote, browser, lang):
    remote.add_customer(id=7001)
    buy(session, installed, "7001", "12000", 30, store="渋谷店")
    buy(session, installed, "7001", "8800", 3, n=1)
    confirm = get(client, "redeem", "7001", lang=lang, points="100").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', confirm).group(1)
    from tests.integration.store.conftest import proxy_query

    issued = client.post(f"/proxy/redeem?{proxy_query(installed.domain, '7001', extra={'lang': lang})}",
                         data={"token": token}).get_data(as_text=True)  # fmt: skip
    pages = {
        name: get(client, name, "7001", lang=lang).get_data(as_text=True)
        for name in ("card", "points", "purchases", "redeem")
    } | {"confirm": confirm, "issued": issued}
    shots = os.environ.get("PROXY_SHOTS")
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True)
    try:
        page = context.new_page()
        for name, html in pages.items():
            page.set_content(html)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
            tabs = page.eval_on_selector_all(
                "nav.tabs a", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            assert len(tabs) == 4 and min(tabs) >= 44, name  # the card is one tap away from every page
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{shots}/{name}-{lang}.png", full_page=True)
    finally:
        context.close()
