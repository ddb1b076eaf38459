"""Scope bookkeeping: normalised lists, write implies read, features that lack a scope."""

from app.models import Shop
from app.shops.installs import FEATURE_SCOPES, features_missing_scopes, missing_scopes_for, normalise_scopes


def test_normalise_sorts_dedupes_and_trims():
    assert normalise_scopes(" write_customers,read_orders,,read_orders ") == "read_orders,write_customers"
    assert normalise_scopes(["b", "a", " a "]) == "a,b"


def test_write_scope_satisfies_the_matching_read_scope():
    shop = Shop(domain="x.myshopify.com", granted_scopes="write_customers")
    assert missing_scopes_for(shop, "segments") == set()  # needs read_customers
    assert missing_scopes_for(shop, "member_sync") == set()


def test_missing_scopes_are_listed_per_feature():
    shop = Shop(domain="x.myshopify.com", granted_scopes="read_customers,read_orders")
    missing = features_missing_scopes(shop)
    assert missing["member_sync"] == {"write_customers"}
    assert missing["history_backfill"] == {"read_all_orders"}
    assert "order_points" not in missing and "segments" not in missing


def test_a_shop_with_every_declared_scope_misses_nothing():
    every = ",".join(sorted(set().union(*FEATURE_SCOPES.values())))
    assert features_missing_scopes(Shop(domain="x.myshopify.com", granted_scopes=every)) == {}


def test_declared_toml_scopes_cover_every_feature():
    import tomllib
    from pathlib import Path

    toml = tomllib.loads((Path(__file__).resolve().parents[3] / "shopify.app.toml").read_text())
    # Declared = required + optional (a merchant who uses every feature has granted both).
    granted = ",".join([toml["access_scopes"]["scopes"], *toml["access_scopes"].get("optional_scopes", [])])
    assert features_missing_scopes(Shop(domain="x.myshopify.com", granted_scopes=granted)) == {}


def _toml_scopes() -> tuple[set[str], set[str]]:
    import tomllib
    from pathlib import Path

    access = tomllib.loads((Path(__file__).resolve().parents[3] / "shopify.app.toml").read_text())[
        "access_scopes"
    ]
    return {s.strip() for s in access["scopes"].split(",") if s.strip()}, set(
        access.get("optional_scopes", [])
    )


def test_a_managed_install_alone_runs_the_core_features():
    required, _ = _toml_scopes()
    missing = features_missing_scopes(Shop(domain="x.myshopify.com", granted_scopes=",".join(required)))
    assert set(missing) == {"history_backfill", "reward_codes", "customer_merge"}


def test_the_optional_scopes_unlock_exactly_the_optional_features():
    required, optional = _toml_scopes()
    for scope in optional:
        shop = Shop(
            domain="x.myshopify.com", granted_scopes=",".join(required - {scope} | (optional - {scope}))
        )
        assert features_missing_scopes(shop), f"{scope} unlocks no feature"
