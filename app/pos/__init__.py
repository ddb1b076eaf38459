"""The app endpoints the Shopify POS UI extension (extensions/tsunagu-pos) calls at the register."""

from flask import Blueprint

bp = Blueprint("pos", __name__, url_prefix="/pos/api")

from app.pos import views  # noqa: E402,F401  (registers the routes on bp)
