"""Install paths outside the admin: authorization-code grant and the patch-id-token page."""

from app.install.views import bp

__all__ = ["bp"]
