"""The e2e stack: the admin stand-in framing the app (local servers), driven by Debian's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import CHROMIUM
from tests.e2e import servers

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
SHOP = "tsunagu-e2e.myshopify.com"
CUSTOMERS = 60  # ~600 orders: enough for every page to have something to show, quick to ingest
API_KEY = "tsunagu-e2e-api-key"
API_SECRET = "tsunagu-e2e-api-secret-0123456789abcdef"


@dataclass
class Stack:
    """Where things run, and the app (in this process) on the same database, for setup and checks."""

    emulator_origin: str
    app_origin: str
    flask_app: object
    spec: object

    def admin_url(self, locale: str, subpath: str = "") -> str:
        handle = SHOP.removesuffix(".myshopify.com")
        path = f"/{subpath.lstrip('/')}" if subpath else ""
        return f"{self.emulator_origin}/store/{handle}/apps/tsunagu{path}?locale={locale}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """Seed a SQLite database with the demo retailer, then start the emulator and the app against it."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's Chromium is missing: run `make system-deps`")
    from app import create_app
    from app.config import load_settings
    from tests.e2e.seed import demo_spec, seed

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    tmp = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{tmp / 'app.sqlite3'}"
    app_port, emulator_port = servers.free_port(), servers.free_port()
    env = servers.app_env(database_url, app_port, emulator_port, API_KEY, API_SECRET)
    flask_app = create_app(load_settings(env))
    spec = demo_spec(CUSTOMERS)
    seed(flask_app, SHOP, spec)
    emulator_cmd = servers.emulator_cmd(
        emulator_port, app_port, SHOP, CUSTOMERS, API_KEY, API_SECRET, spec.end.isoformat()
    )
    with (
        servers.process(emulator_cmd, env, ARTIFACTS / "emulator.log") as emulator,
        servers.process(servers.app_cmd(app_port), env, ARTIFACTS / "app.log") as app_server,
    ):
        servers.wait_for(f"http://127.0.0.1:{app_port}/healthz", app_server)
        servers.wait_for(f"http://127.0.0.1:{emulator_port}/_emulator/health", emulator)
        yield Stack(f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{app_port}", flask_app, spec)


@pytest.fixture
def page(browser, request):
    """A fresh browser context per test; tall, so the admin's iframe shows whole pages in screenshots.

    The browser's own locale follows the test's language (date inputs render in it), Japanese by default.
    """
    params = getattr(request.node, "callspec", None)
    language = params.params.get("locale", "ja") if params else "ja"
    context = browser.new_context(
        viewport={"width": 1360, "height": 1800},
        accept_downloads=True,
        locale={"ja": "ja-JP", "en": "en-US"}[language],
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors  # type: ignore[attr-defined]
    try:
        yield tab
    finally:
        context.close()


def shot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/e2e/ (kept by CI as an artifact)."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
