"""Storefront app-proxy pages: the member card, points, purchases, redemption, paper-card and LINE links."""

from app.proxy import pages  # noqa: F401 - registers the member pages on the blueprint
from app.proxy.views import bp

__all__ = ["bp"]
