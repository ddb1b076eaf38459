"""The Flow extensions `shopify app deploy` ships declare exactly what the app sends and serves."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from app.flow import catalog

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted((ROOT / "extensions").glob("flow-*/shopify.extension.toml"))


def _load(path: Path) -> tuple[dict, list[dict]]:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    (ext,) = config["extensions"]
    return ext, config.get("settings", {}).get("fields", [])


def _declared(kind: str) -> dict[str, dict[str, str]]:
    out = {}
    for path in FILES:
        ext, fields = _load(path)
        if ext["type"] == kind:
            assert [f["type"] for f in fields].count("customer_reference") == 1, path
            out[ext["handle"]] = {f["key"]: f["type"] for f in fields if f["type"] != "customer_reference"}
    return out


def test_every_extension_parses_with_a_valid_handle():
    assert len(FILES) == len(catalog.TRIGGERS) + len(catalog.ACTIONS)
    for path in FILES:
        ext, _ = _load(path)
        assert ext["type"] in ("flow_trigger", "flow_action")
        # Flow's rules for a handle: at most 30 characters, alphanumerics and hyphens.
        assert re.fullmatch(r"[a-z0-9-]{1,30}", ext["handle"]), path
        assert ext["name"] and ext["description"]


def test_triggers_declare_the_fields_the_app_sends():
    assert _declared("flow_trigger") == catalog.TRIGGERS


def test_actions_declare_the_properties_the_endpoint_reads():
    assert _declared("flow_action") == catalog.ACTIONS


@pytest.mark.parametrize(
    "path", [p for p in FILES if _load(p)[0]["type"] == "flow_action"], ids=lambda p: p.parent.name
)
def test_action_runtime_url_is_the_app_route(app, path):
    ext, _ = _load(path)
    assert ext["runtime_url"] == f"/flow/actions/{ext['handle']}"
    adapter = app.url_map.bind("tsunagu.test")
    assert adapter.match(ext["runtime_url"], method="POST")[0] == "flow.action"


def test_payload_builders_fill_every_declared_field():
    from datetime import date

    built = {
        catalog.RANK_CHANGED: catalog.rank_changed("7", "regular", "gold"),
        catalog.POINTS_EARNED: catalog.points_earned("7", 10, "1001"),
        catalog.POINTS_EXPIRING: catalog.points_expiring("7", 10, date(2026, 1, 31)),
        catalog.LINE_LINKED: catalog.line_linked("7"),
        catalog.CAMPAIGN_REWARD_ISSUED: catalog.campaign_reward_issued("7", "Welcome back", 0, "TSU-ABC"),
    }
    for handle, payload in built.items():
        assert set(payload) == {catalog.CUSTOMER_KEY, *catalog.TRIGGERS[handle]}
        assert payload[catalog.CUSTOMER_KEY] == 7
