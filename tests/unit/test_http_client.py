"""The one HTTP client builder behind Shopify, Smaregi and LINE: timeouts, User-Agent, the stand-in hook."""

import httpx
import pytest

from app.http_client import http_client


def _recorder():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/"})

    return seen, httpx.MockTransport(handler)


def test_every_client_has_timeouts_a_user_agent_and_does_not_follow_redirects():
    seen, transport = _recorder()
    with http_client("line", transport) as client:
        assert (client.timeout.connect, client.timeout.read) == (2.0, 10.0)
        response = client.get("https://api.line.me/v2/bot/info")
    assert response.status_code == 302 and len(seen) == 1
    assert seen[0].headers["User-Agent"].startswith("Tsunagu/")


@pytest.mark.parametrize("name", ["smaregi", "line"])
def test_the_stand_in_configured_for_an_api_answers_its_calls(app, name):
    seen, transport = _recorder()
    app.config[f"{name.upper()}_TRANSPORT"] = transport
    try:
        with app.app_context(), http_client(name) as client:
            client.get("https://api.example/x")
    finally:
        del app.config[f"{name.upper()}_TRANSPORT"]
    assert len(seen) == 1


def test_closing_one_client_keeps_the_shared_stand_in_open_and_wrap_sees_each_request():
    seen, transport = _recorder()
    wrapped: list[str] = []

    class Tap(httpx.BaseTransport):
        def __init__(self, inner):
            self.inner = inner

        def handle_request(self, request):
            wrapped.append(request.url.path)
            return self.inner.handle_request(request)

    for path in ("/a", "/b"):
        with http_client("smaregi", transport, wrap=Tap) as client:
            client.get(f"https://api.example{path}")
    assert wrapped == ["/a", "/b"] and len(seen) == 2
