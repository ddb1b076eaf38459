"""Every dashboard page renders in Japanese and English for an installed shop."""

from __future__ import annotations

import pytest

PAGES = ["/", "/members", "/segments", "/settings/rules", "/sync", "/backfill", "/reports", "/campaigns"]


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_page_renders_in_both_languages(admin, installed, path, locale):
    html = admin.html(path, locale)
    assert f'<html lang="{locale}">' in html
    assert 'class="ts-nav"' in html
