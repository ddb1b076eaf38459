"""The Flow tests reuse the sync tests' world: an emulated shop, the app's shop row, real commits."""

from tests.integration.sync.conftest import world  # noqa: F401  (the fixture, registered here too)
