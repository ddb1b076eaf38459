"""Storefront app-proxy pages: the member card, paper-card linking, the LINE link, store purchases."""

from app.proxy.views import bp

__all__ = ["bp"]
